using System.Buffers.Binary;
using System.Text;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>A restricted unpickler for PyTorch state dicts: exactly the opcodes and globals that
/// <c>torch.save(state_dict)</c> writes, refusing anything else (a pickle can otherwise run any code).</summary>
/// <remarks>Opcodes follow CPython's <c>pickletools</c> documentation (protocols 2-4). Tensors are
/// <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])</c>
/// whose storage arrives as a persistent id <c>('storage', torch.XStorage, key, location, numel)</c>
/// naming the archive entry <c>data/key</c>. Every operand is read with a bounds check, so a truncated or
/// corrupted pickle is an error at the offset where it breaks. Numbers are only collected here; the caller
/// checks them against the archive once the tensor they belong to has a name.</remarks>
internal sealed class StateDictUnpickler
{
    /// <summary>A named tensor as the pickle describes it: a view of <see cref="StorageElements"/> elements of archive
    /// entry <c>data/StorageKey</c>, starting <see cref="Offset"/> elements in; not yet checked against the archive.</summary>
    public sealed record TensorView(string Name, string StorageKey, string DType, long StorageElements, long Offset, long[] Shape, long[] Stride);

    private sealed record Global(string Module, string Name)
    {
        public override string ToString() => $"{Module}.{Name}";
    }

    private sealed record StorageReference(Global Type, string Key, long ElementCount);

    private sealed record RebuiltTensor(StorageReference Storage, long Offset, long[] Shape, long[] Stride);

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

    /// <summary>Objects pushed and memo entries stored, at most: some opcodes build a 100-byte object from one byte, so this
    /// bounds the memory a hostile pickle can claim (about 100 MB). A GPT-J 6B state dict needs about 30 per tensor, 10,000 in all.</summary>
    private const int MaxObjects = 1_000_000;

    private readonly MappedFile file;
    private readonly string entry;
    private readonly List<object?> stack = [];
    private readonly Dictionary<long, object?> memo = [];
    private int objects;

    private StateDictUnpickler(MappedFile file, string entry)
    {
        this.file = file;
        this.entry = entry;
    }

    /// <summary>Unpickles the state dict in archive entry <paramref name="entry"/> of <paramref name="file"/>.</summary>
    public static List<TensorView> Load(MappedFile file, string entry, ReadOnlySpan<byte> pickle)
    {
        var unpickler = new StateDictUnpickler(file, entry);
        var result = unpickler.Run(pickle);
        var items = result switch
        {
            OrderedDict d => d.Items,
            Dictionary<object, object?> d => d.ToList(),
            _ => throw unpickler.Bad($"the pickle holds {Describe(result)}, not a state dict"),
        };
        var tensors = new List<TensorView>();
        foreach (var (key, value) in items)
        {
            if (key is not string name)
                throw unpickler.Bad($"state dict key {Describe(key)} is not a tensor name");
            if (value is not RebuiltTensor tensor)
                throw file.Error($"is {Describe(value)} in the state dict, not a tensor", name);
            var storage = tensor.Storage;
            if (storage.Type.Module != "torch" || !StorageTypes.TryGetValue(storage.Type.Name, out var dtype))
                throw file.Error($"its storage '{storage.Key}' has type {storage.Type}, not a torch storage type ({string.Join(", ", StorageTypes.Keys)})", name);
            tensors.Add(new TensorView(name, storage.Key, dtype, storage.ElementCount, tensor.Offset, tensor.Shape, tensor.Stride));
        }
        return tensors;
    }

    private object? Run(ReadOnlySpan<byte> p)
    {
        var i = 0;
        while (true)
        {
            if (i >= p.Length) throw Bad($"the pickle ends at offset {i} without STOP (truncated?)");
            var at = i;
            var op = p[i++];
            switch (op)
            {
                case 0x80: Take(p, ref i, 1, at); break;                 // PROTO n
                case 0x95: Take(p, ref i, 8, at); break;                 // FRAME length
                case (byte)'.': return Pop();                            // STOP
                case (byte)'(': Push(new Mark()); break;                 // MARK
                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'t': Push(PopToMark().ToArray()); break; // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                 // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'}': Push(new Dictionary<object, object?>()); break; // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;        // EMPTY_LIST
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
                case (byte)'q': Remember(Take(p, ref i, 1, at)[0]); break; // BINPUT
                case (byte)'r': Remember(BinaryPrimitives.ReadUInt32LittleEndian(Take(p, ref i, 4, at))); break; // LONG_BINPUT
                case 0x94: Remember(memo.Count); break;                  // MEMOIZE
                case (byte)'h': Push(Memo(Take(p, ref i, 1, at)[0])); break; // BINGET
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(p, ref i, 4, at)))); break; // LONG_BINGET
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(p, ref i, 4, at))); break; // BININT
                case (byte)'K': Push((long)Take(p, ref i, 1, at)[0]); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(p, ref i, 2, at))); break; // BININT2
                case 0x8a:                                                // LONG1: n, then n bytes little-endian two's complement
                    {
                        int n = Take(p, ref i, 1, at)[0];
                        if (n > 8) throw Bad($"integer of {n} bytes at offset {at} is too large");
                        var bytes = Take(p, ref i, n, at);
                        long v = 0;
                        for (var j = n - 1; j >= 0; j--) v = (v << 8) | bytes[j];
                        if (n is > 0 and < 8 && (bytes[n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                        Push(v);
                        break;
                    }
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(p, ref i, 8, at))); break; // BINFLOAT
                case (byte)'X':                                           // BINUNICODE
                    {
                        var n = BinaryPrimitives.ReadUInt32LittleEndian(Take(p, ref i, 4, at));
                        Push(Encoding.UTF8.GetString(Take(p, ref i, n, at)));
                        break;
                    }
                case 0x8c: Push(Encoding.UTF8.GetString(Take(p, ref i, Take(p, ref i, 1, at)[0], at))); break; // SHORT_BINUNICODE
                case 0x88: Push(true); break;                            // NEWTRUE
                case 0x89: Push(false); break;                           // NEWFALSE
                case (byte)'N': Push(null); break;                       // NONE
                case (byte)'c':                                           // GLOBAL module\nname\n
                    {
                        var module = Line(p, ref i, at);
                        var name = Line(p, ref i, at);
                        Push(CheckGlobal(module, name));
                        break;
                    }
                case 0x93:                                                // STACK_GLOBAL
                    {
                        var name = Pop() as string;
                        var module = Pop() as string;
                        if (name is null || module is null) throw Bad($"STACK_GLOBAL without strings at offset {at}");
                        Push(CheckGlobal(module, name));
                        break;
                    }
                case (byte)'Q': Push(PersistentLoad(Pop(), at)); break; // BINPERSID
                case (byte)'R': { var args = Pop(); var callable = Pop(); Push(Reduce(callable, args, at)); break; } // REDUCE
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

    /// <summary>The next <paramref name="count"/> bytes of the operand of the opcode at <paramref name="at"/>, or an error when the pickle ends first.</summary>
    private ReadOnlySpan<byte> Take(ReadOnlySpan<byte> p, ref int i, long count, int at)
    {
        if (count > p.Length - i)
            throw Bad($"the opcode at offset {at} needs {count} more bytes but the pickle ends after {p.Length - i} (truncated?)");
        var bytes = p.Slice(i, (int)count);
        i += (int)count;
        return bytes;
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

    private StorageReference PersistentLoad(object? pid, int at)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage" || t[1] is not Global type ||
            t[2] is not string key || t[4] is not long count)
            throw Bad($"persistent id {Describe(pid)} at offset {at} is not ('storage', type, key, location, numel)");
        return new StorageReference(type, key, count);
    }

    private object Reduce(object? callable, object? args, int at)
    {
        if (callable is not Global g || args is not object?[] a)
            throw Bad($"REDUCE of {Describe(callable)} at offset {at} is not allowed");
        if (g is { Module: "collections", Name: "OrderedDict" })
        {
            if (a.Length != 0) throw Bad($"OrderedDict built with arguments at offset {at}");
            return new OrderedDict();
        }
        if (g is { Module: "torch._utils", Name: "_rebuild_tensor_v2" })
            return RebuildTensor(a, at);
        throw Bad($"calling {g} at offset {at} is not allowed");
    }

    private RebuiltTensor RebuildTensor(object?[] a, int at)
    {
        if (a.Length is < 6 or > 7 || a[0] is not StorageReference storage || a[1] is not long offset ||
            a[2] is not object?[] size || a[3] is not object?[] stride)
            throw Bad($"_rebuild_tensor_v2 arguments at offset {at} are not (storage, offset, size, stride, requires_grad, hooks)");
        return new RebuiltTensor(storage, offset, Integers(size, "size", at), Integers(stride, "stride", at));
    }

    private long[] Integers(object?[] tuple, string what, int at) =>
        tuple.Select(s => s as long? ?? throw Bad($"tensor {what} at offset {at} holds {Describe(s)}, not integers")).ToArray();

    private void SetItem(object? target, object? key, object? value)
    {
        switch (target)
        {
            case OrderedDict d: d.Items.Add(new(key ?? "None", value)); break;
            case Dictionary<object, object?> d: d[key ?? "None"] = value; break;
            default: throw Bad($"SETITEM on {Describe(target)}");
        }
    }

    private List<object?> AsList(object? o) => o as List<object?> ?? throw Bad($"APPEND on {Describe(o)}");

    private object? Memo(long index) => memo.TryGetValue(index, out var v) ? v : throw Bad($"memo entry {index} was never stored");

    private void Push(object? value)
    {
        Count();
        stack.Add(value);
    }

    private void Remember(long index)
    {
        Count();
        memo[index] = Peek();
    }

    private void Count()
    {
        if (++objects > MaxObjects)
            throw Bad($"the pickle builds more than {MaxObjects} objects; a state dict needs a few dozen per tensor");
    }

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

    private string Line(ReadOnlySpan<byte> p, ref int i, int at)
    {
        var end = p[i..].IndexOf((byte)'\n');
        if (end < 0) throw Bad($"GLOBAL at offset {at} without a newline");
        var s = Encoding.UTF8.GetString(p.Slice(i, end));
        i += end + 1;
        return s;
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        string s => $"'{s}'",
        object?[] t => $"a tuple of {t.Length}",
        RebuiltTensor => "a tensor",
        _ => o.GetType().Name,
    };

    private CheckpointFormatException Bad(string problem) => file.Error($"{entry}: {problem}");
}
