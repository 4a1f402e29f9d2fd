// Calls the Gateway at argv[2] with the official OpenAI Node SDK, unchanged, and prints one JSON object of what
// the SDK returned; tests/Gateway.Tests/Clients/OpenAiNodeTests.cs starts it and asserts on that report.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: `${process.argv[2]}/v1`, apiKey: 'unused', maxRetries: 0 });

const whole = await client.completions.create({ model: 'gptj', prompt: 'Xin chào', max_tokens: 5, n: 2 });

const streamed = { texts: {}, finishReasons: {}, usage: null, chunks: 0 };
const stream = await client.completions.create({
  model: 'gptj', prompt: 'Xin chào', max_tokens: 5, n: 2, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  streamed.chunks++;
  for (const choice of chunk.choices) {
    streamed.texts[choice.index] = (streamed.texts[choice.index] ?? '') + choice.text;
    if (choice.finish_reason) streamed.finishReasons[choice.index] = choice.finish_reason;
  }
  if (chunk.usage) streamed.usage = chunk.usage;
}

let error = null;
try {
  await client.completions.create({ model: 'gptj', prompt: 'Xin chào', temperature: 5 });
} catch (e) {
  if (!(e instanceof OpenAI.APIError)) throw e;
  error = { status: e.status, param: e.param, message: e.error?.message };
}

const listed = [];
for await (const model of client.models.list()) listed.push(model.id);
const retrieved = await client.models.retrieve('gptj');
let missingModel = null;
try {
  await client.models.retrieve('gpt-4');
} catch (e) {
  if (!(e instanceof OpenAI.NotFoundError)) throw e;
  missingModel = { status: e.status, code: e.code };
}

console.log(JSON.stringify({ whole, streamed, error, models: { listed, retrieved, missingModel } }));
