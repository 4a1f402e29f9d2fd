using System.Buffers.Binary;
using System.Text;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>A restricted unpickler for PyTorch state dicts: exactly the opcodes and globals that
/// <c>torch.save(state_dict)</c> writes, refusing anything else (a pickle can otherwise run any code).</summary>
/// <remarks>Opcodes follow CPython's <c>pickletools</c> documentation (protocols 2-4). Tensors are
/// <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])</c>
/// whose storage arrives as a persistent id <c>('storage', torch.XStorage, key, location, numel)</c>
/// naming the archive entry <c>data/key</c>.</remarks>
internal sealed class StateDictUnpickler
{
    /// <summary>A storage resolved to an address in the mapped archive.</summary>
    public sealed record Storage(string DType, nint Data, long ElementCount);

    private sealed record Global(string Module, string Name)
    {
        public override string ToString() => $"{Module}.{Name}";
    }

    private sealed class Mark;

    private sealed class OrderedDict
    {
        public List<KeyValuePair<object, object?>> Items { get; } = [];
    }

    private static readonly Dictionary<string, string> StorageTypes = new()
    {
        ["FloatStorage"] = "F32", ["HalfStorage"] = "F16", ["BFloat16Storage"] = "BF16",
        ["DoubleStorage"] = "F64", ["LongStorage"] = "I64", ["IntStorage"] = "I32",
        ["ShortStorage"] = "I16", ["CharStorage"] = "I8", ["ByteStorage"] = "U8", ["BoolStorage"] = "BOOL",
    };

    private readonly string source;
    private readonly Func<string, string, long, Storage> resolveStorage;
    private readonly List<object?> stack = [];
    private readonly Dictionary<long, object?> memo = [];

    private StateDictUnpickler(string source, Func<string, string, long, Storage> resolveStorage)
    {
        this.source = source;
        this.resolveStorage = resolveStorage;
    }

    /// <summary>Unpickles a state dict. <paramref name="resolveStorage"/> maps (key, dtype, element count) to memory.</summary>
    public static List<CheckpointTensor> Load(ReadOnlySpan<byte> pickle, string source, Func<string, string, long, Storage> resolveStorage)
    {
        var result = new StateDictUnpickler(source, resolveStorage).Run(pickle);
        var items = result switch
        {
            OrderedDict d => d.Items,
            Dictionary<object, object?> d => d.ToList(),
            _ => throw new InvalidDataException($"{source}: the pickle holds {Describe(result)}, not a state dict"),
        };
        var tensors = new List<CheckpointTensor>();
        foreach (var (key, value) in items)
        {
            if (key is not string name || value is not CheckpointTensor tensor)
                throw new InvalidDataException($"{source}: state dict entry {Describe(key)} is {Describe(value)}, not a named tensor");
            tensors.Add(tensor with { Name = name });
        }
        return tensors;
    }

    private object? Run(ReadOnlySpan<byte> p)
    {
        var i = 0;
        while (true)
        {
            if (i >= p.Length) throw Bad($"pickle ends without STOP at offset {i}");
            var at = i;
            var op = p[i++];
            switch (op)
            {
                case 0x80: i++; break;                                   // PROTO n
                case 0x95: i += 8; break;                                // FRAME length
                case (byte)'.': return Pop();                            // STOP
                case (byte)'(': stack.Add(new Mark()); break;            // MARK
                case (byte)')': stack.Add(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'t': stack.Add(PopToMark().ToArray()); break; // TUPLE
                case 0x85: stack.Add(new[] { Pop() }); break;            // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); stack.Add(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); stack.Add(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'}': stack.Add(new Dictionary<object, object?>()); break; // EMPTY_DICT
                case (byte)']': stack.Add(new List<object?>()); break;   // EMPTY_LIST
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; } // APPEND
                case (byte)'e': { var vs = PopToMark(); AsList(Peek()).AddRange(vs); break; } // APPENDS
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItem(Peek(), k, v); break; } // SETITEM
                case (byte)'u':                                           // SETITEMS
                    {
                        var kv = PopToMark();
                        if (kv.Count % 2 != 0) throw Bad($"SETITEMS with an odd number of items at offset {at}");
                        var target = Peek();
                        for (var j = 0; j < kv.Count; j += 2) SetItem(target, kv[j], kv[j + 1]);
                        break;
                    }
                case (byte)'q': memo[p[i++]] = Peek(); break;            // BINPUT
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(p[i..])] = Peek(); i += 4; break; // LONG_BINPUT
                case 0x94: memo[memo.Count] = Peek(); break;             // MEMOIZE
                case (byte)'h': stack.Add(Memo(p[i++])); break;          // BINGET
                case (byte)'j': stack.Add(Memo(BinaryPrimitives.ReadUInt32LittleEndian(p[i..]))); i += 4; break; // LONG_BINGET
                case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(p[i..])); i += 4; break; // BININT
                case (byte)'K': stack.Add((long)p[i++]); break;          // BININT1
                case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(p[i..])); i += 2; break; // BININT2
                case 0x8a:                                                // LONG1
                    {
                        int n = p[i++];
                        if (n > 8) throw Bad($"integer of {n} bytes at offset {at} is too large");
                        long v = 0;
                        for (var j = n - 1; j >= 0; j--) v = (v << 8) | p[i + j];
                        if (n is > 0 and < 8 && (p[i + n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                        stack.Add(v);
                        i += n;
                        break;
                    }
                case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(p[i..])); i += 8; break; // BINFLOAT
                case (byte)'X': { var n = (int)BinaryPrimitives.ReadUInt32LittleEndian(p[i..]); i += 4; stack.Add(Text(p, i, n)); i += n; break; } // BINUNICODE
                case 0x8c: { int n = p[i++]; stack.Add(Text(p, i, n)); i += n; break; } // SHORT_BINUNICODE
                case 0x88: stack.Add(true); break;                       // NEWTRUE
                case 0x89: stack.Add(false); break;                      // NEWFALSE
                case (byte)'N': stack.Add(null); break;                  // NONE
                case (byte)'c':                                           // GLOBAL module\nname\n
                    {
                        var module = Line(p, ref i);
                        var name = Line(p, ref i);
                        stack.Add(CheckGlobal(module, name));
                        break;
                    }
                case 0x93:                                                // STACK_GLOBAL
                    {
                        var name = Pop() as string;
                        var module = Pop() as string;
                        if (name is null || module is null) throw Bad($"STACK_GLOBAL without strings at offset {at}");
                        stack.Add(CheckGlobal(module, name));
                        break;
                    }
                case (byte)'Q': stack.Add(PersistentLoad(Pop())); break; // BINPERSID
                case (byte)'R': { var args = Pop(); var callable = Pop(); stack.Add(Reduce(callable, args)); break; } // REDUCE
                case (byte)'b':                                           // BUILD
                    {
                        Pop(); // an OrderedDict's state: its `_metadata` attribute (module versions), not needed
                        if (Peek() is not OrderedDict) throw Bad($"BUILD on {Describe(Peek())} at offset {at}");
                        break;
                    }
                default:
                    throw Bad($"pickle opcode 0x{op:x2} ('{(char)op}') at offset {at} is not part of a state dict; refusing to load");
            }
        }
    }

    private Global CheckGlobal(string module, string name)
    {
        var allowed = (module, name) switch
        {
            ("collections", "OrderedDict") => true,
            ("torch._utils", "_rebuild_tensor_v2") => true,
            ("torch", _) when StorageTypes.ContainsKey(name) => true,
            _ => false,
        };
        if (!allowed)
            throw Bad($"forbidden global '{module}.{name}': a state dict only references collections.OrderedDict, " +
                      "torch._utils._rebuild_tensor_v2 and torch storage types; refusing to load");
        return new Global(module, name);
    }

    private Storage PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage" || t[1] is not Global type ||
            t[2] is not string key || t[4] is not long count)
            throw Bad($"persistent id {Describe(pid)} is not ('storage', type, key, location, numel)");
        return resolveStorage(key, StorageTypes[type.Name], count);
    }

    private object Reduce(object? callable, object? args)
    {
        if (callable is not Global g || args is not object?[] a)
            throw Bad($"REDUCE of {Describe(callable)} is not allowed");
        if (g is { Module: "collections", Name: "OrderedDict" })
        {
            if (a.Length != 0) throw Bad("OrderedDict built with arguments");
            return new OrderedDict();
        }
        if (g is { Module: "torch._utils", Name: "_rebuild_tensor_v2" })
            return RebuildTensor(a);
        throw Bad($"calling {g} is not allowed");
    }

    private CheckpointTensor RebuildTensor(object?[] a)
    {
        if (a.Length is < 6 or > 7 || a[0] is not Storage storage || a[1] is not long offset ||
            a[2] is not object?[] size || a[3] is not object?[] stride)
            throw Bad("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, requires_grad, hooks)");
        var shape = size.Select(s => s as long? ?? throw Bad("tensor size is not integers")).ToArray();
        var strides = stride.Select(s => s as long? ?? throw Bad("tensor stride is not integers")).ToArray();
        long expected = 1;
        for (var d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] != 1 && strides[d] != expected)
                throw Bad($"tensor of shape [{string.Join(", ", shape)}] is not contiguous (stride [{string.Join(", ", strides)}])");
            expected *= shape[d];
        }
        if (offset < 0 || offset + expected > storage.ElementCount)
            throw Bad($"tensor of {expected} elements at offset {offset} overruns its storage of {storage.ElementCount}");
        var elementSize = CheckpointTensor.ElementSize(storage.DType);
        return new CheckpointTensor("", storage.DType, shape, storage.Data + (nint)(offset * elementSize));
    }

    private static void SetItem(object? target, object? key, object? value)
    {
        switch (target)
        {
            case OrderedDict d: d.Items.Add(new(key ?? "None", value)); break;
            case Dictionary<object, object?> d: d[key ?? "None"] = value; break;
            default: throw new InvalidDataException($"SETITEM on {Describe(target)}");
        }
    }

    private static List<object?> AsList(object? o) => o as List<object?> ?? throw new InvalidDataException($"APPEND on {Describe(o)}");

    private object? Memo(long index) => memo.TryGetValue(index, out var v) ? v : throw Bad($"memo entry {index} was never stored");

    private object? Pop()
    {
        if (stack.Count == 0 || stack[^1] is Mark) throw Bad("pickle stack underflow");
        var v = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return v;
    }

    private object? Peek() => stack.Count > 0 ? stack[^1] : throw Bad("pickle stack underflow");

    private List<object?> PopToMark()
    {
        var m = stack.FindLastIndex(o => o is Mark);
        if (m < 0) throw Bad("pickle has no MARK to pop to");
        var items = stack.GetRange(m + 1, stack.Count - m - 1);
        stack.RemoveRange(m, stack.Count - m);
        return items;
    }

    private string Text(ReadOnlySpan<byte> p, int start, int length)
    {
        if (length < 0 || start + length > p.Length) throw Bad("string runs past the end of the pickle");
        return Encoding.UTF8.GetString(p.Slice(start, length));
    }

    private string Line(ReadOnlySpan<byte> p, ref int i)
    {
        var end = p[i..].IndexOf((byte)'\n');
        if (end < 0) throw Bad("GLOBAL without a newline");
        var s = Encoding.UTF8.GetString(p.Slice(i, end));
        i += end + 1;
        return s;
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        string s => $"'{s}'",
        object?[] t => $"a tuple of {t.Length}",
        _ => o.GetType().Name,
    };

    private InvalidDataException Bad(string problem) => new($"{source}: {problem}");
}
