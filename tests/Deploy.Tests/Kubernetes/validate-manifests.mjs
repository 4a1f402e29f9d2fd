// Validates every object of a multi-document YAML stream (stdin) against the Kubernetes API
// models generated from the OpenAPI spec in @kubernetes/client-node: each field must be one
// the model declares (unknown fields are errors, as `kubectl apply --validate=strict` makes
// them), have the declared type, and every field the model marks required must be present.
// Prints one line per problem ("<doc index> <kind>/<name> <path>: <problem>"); exits 1 when
// there is any, 0 when all objects are valid.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { parseAllDocuments } from 'yaml';

// The package root also loads its HTTP client, which this Node version cannot; the generated
// models and their serializer stand alone.
const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('@kubernetes/client-node/package.json'));
const modelsDir = join(packageDir, 'dist', 'gen', 'models');
const models = await import(join(modelsDir, 'all.js'));
const { ObjectSerializer } = await import(join(modelsDir, 'ObjectSerializer.js'));

const requiredCache = new Map();

// The generated typings mark required properties without `?` ('name': string;).
function requiredFields(typeName) {
  if (!requiredCache.has(typeName)) {
    const typings = readFileSync(join(modelsDir, `${typeName}.d.ts`), 'utf8');
    const required = [...typings.matchAll(/^\s+'([^']+)':/gm)].map((m) => m[1]);
    requiredCache.set(typeName, required);
  }
  return requiredCache.get(typeName);
}

// apps/v1 + Deployment -> V1Deployment; autoscaling/v2 + HorizontalPodAutoscaler -> V2HorizontalPodAutoscaler.
export function modelNameFor(apiVersion, kind) {
  const version = apiVersion.split('/').pop();
  return version.charAt(0).toUpperCase() + version.slice(1) + kind;
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function check(value, type, format, path, problems) {
  if (value === null || value === undefined) return;
  if (type.startsWith('Array<')) {
    if (!Array.isArray(value)) return problems.push(`${path}: expected a list`);
    const inner = type.slice('Array<'.length, -1);
    value.forEach((item, i) => check(item, inner, format, `${path}[${i}]`, problems));
    return;
  }
  if (type.startsWith('{ [key: string]: ')) {
    if (!isPlainObject(value)) return problems.push(`${path}: expected a map`);
    const inner = type.slice('{ [key: string]: '.length, -'; }'.length);
    for (const [k, v] of Object.entries(value)) check(v, inner, format, `${path}.${k}`, problems);
    return;
  }
  switch (type) {
    case 'string':
    case 'Date':
      if (typeof value !== 'string') problems.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path}: expected a boolean, got ${JSON.stringify(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') problems.push(`${path}: expected a number, got ${JSON.stringify(value)}`);
      else if ((format === 'int32' || format === 'int64') && !Number.isInteger(value)) problems.push(`${path}: expected an integer`);
      return;
    case 'IntOrString':
      if (typeof value !== 'number' && typeof value !== 'string') problems.push(`${path}: expected an integer or a string`);
      return;
    case 'any':
    case 'object':
      return;
  }
  const model = models[type];
  if (!model) return problems.push(`${path}: the schema has no type '${type}'`);
  if (!isPlainObject(value)) return problems.push(`${path}: expected an object (${type})`);
  const attributes = model.getAttributeTypeMap();
  for (const key of Object.keys(value)) {
    if (!attributes.some((a) => a.baseName === key)) problems.push(`${path}.${key}: unknown field (${type} has no '${key}')`);
  }
  for (const name of requiredFields(type)) {
    const attribute = attributes.find((a) => a.name === name);
    if (attribute && value[attribute.baseName] === undefined) problems.push(`${path}.${attribute.baseName}: required field missing (${type})`);
  }
  for (const a of attributes) check(value[a.baseName], a.type, a.format, `${path}.${a.baseName}`, problems);
}

export function validateObject(object) {
  const problems = [];
  if (!isPlainObject(object)) return ['.: a manifest must be a mapping'];
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return ['.: apiVersion and kind are required'];
  const type = modelNameFor(object.apiVersion, object.kind);
  if (!models[type]) return [`.: no Kubernetes API type ${object.kind} in ${object.apiVersion}`];
  check(object, type, '', '', problems);
  // The library's own serializer keeps only what the model declares; a round trip that loses
  // something means a field the API server would drop or reject.
  const roundTrip = ObjectSerializer.serialize(ObjectSerializer.deserialize(object, type, ''), type, '');
  if (problems.length === 0 && JSON.stringify(stripUndefined(roundTrip)) !== JSON.stringify(object)) {
    problems.push(`.: the ${type} serializer does not reproduce the object`);
  }
  return problems;
}

function stripUndefined(v) {
  if (Array.isArray(v)) return v.map(stripUndefined);
  if (v instanceof Date) return v.toISOString();
  if (!isPlainObject(v)) return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = stripUndefined(x);
  return out;
}

const text = readFileSync(0, 'utf8');
const documents = parseAllDocuments(text);
let count = 0;
let failures = 0;
documents.forEach((doc, index) => {
  if (doc.errors.length > 0) {
    failures++;
    console.log(`${index} ?: YAML error: ${doc.errors[0].message}`);
    return;
  }
  const object = doc.toJS();
  if (object === null) return;
  count++;
  const name = `${object.kind ?? '?'}/${object.metadata?.name ?? '?'}`;
  for (const problem of validateObject(object)) {
    failures++;
    console.log(`${index} ${name} ${problem}`);
  }
});
if (count === 0) {
  console.log('no objects in input');
  process.exit(1);
}
console.error(`${count} objects checked, ${failures} problems`);
process.exit(failures === 0 ? 0 : 1);
