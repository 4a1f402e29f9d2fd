using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Tests.DemoModel;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Deterministic fuzzing of the checkpoint readers: 1,200 mutations of real checkpoints (the demo model as
/// safetensors, two reference fixtures as torch.save archives) must each load, with every tensor inside the file, or be
/// refused with a <see cref="CheckpointFormatException"/> naming the file. Any other exception fails the test with the
/// mutation that caused it; an access violation would end the test run. Files are read once and mutated in memory.</summary>
public sealed unsafe partial class CheckpointFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 16;

    /// <summary>Values a hostile file puts in integer fields, as bytes of each width (little-endian).</summary>
    private static readonly ulong[] ExtremeIntegers =
        [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
         1UL << 62, long.MaxValue, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 7];

    /// <summary>Numbers a hostile safetensors header writes where shapes and offsets go.</summary>
    private static readonly string[] ExtremeNumbers =
        ["-1", "0", "1", "4294967296", "4611686018427387904", "9223372036854775807", "9223372036854775808",
         "-9223372036854775808", "18446744073709551615", "99999999999999999999999", "1e308", "1.5", "-0"];

    private static readonly string[] DTypes = ["F32", "BF16", "F64", "I64", "BOOL", "U8", "F8_E4M3", "", "f16", "F16 "];

    private enum Outcome { Loaded, Refused }

    [Fact]
    public void Demo_safetensors_checkpoint_mutated_600_ways_loads_or_is_refused_naming_the_file()
    {
        var path = Path.Combine(DemoCheckpoint.Directory, "model.safetensors");
        var config = GptjConfig.Load(Path.Combine(DemoCheckpoint.Directory, "config.json"));
        var original = File.ReadAllBytes(path);
        var headerSize = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var prefix = original[..(8 + headerSize)];
        var header = Encoding.UTF8.GetString(original, 8, headerSize);
        var numbers = JsonNumber().Matches(header).ToList();
        var dtypes = JsonDType().Matches(header).ToList();
        var dataLength = original.Length - prefix.Length;

        // The file is its prefix (size + header), mutated, placed right before the data, which never moves:
        // a mutation costs the header's few kilobytes, not a copy of the whole checkpoint.
        const int slack = 1 << 16;
        var buffer = (byte*)NativeMemory.Alloc((nuint)(slack + original.Length));
        try
        {
            var data = buffer + slack + prefix.Length;
            original.AsSpan(prefix.Length).CopyTo(new Span<byte>(data, dataLength));
            var random = new Random(Seed);
            var tally = new Dictionary<Outcome, int> { [Outcome.Loaded] = 0, [Outcome.Refused] = 0 };
            for (var n = 0; n < 600; n++)
            {
                var mutated = prefix;
                long kept = dataLength;
                (long Offset, byte Value)? dataFlip = null;
                string what;
                switch (n % 10)
                {
                    case 0: (mutated, what) = FlipBits(prefix, 0, prefix.Length, random); break;
                    case 1: (mutated, what) = SetExtreme(prefix, random.Next(prefix.Length), random); break;
                    case 2: (mutated, what) = Insert(prefix, random.Next(prefix.Length + 1), random); break;
                    case 3: (mutated, what) = Delete(prefix, random.Next(prefix.Length), random); break;
                    case 4:
                        if (random.Next(2) == 0) { kept = 0; (mutated, what) = Truncate(prefix, random); }
                        else { kept = random.NextInt64(dataLength); what = $"cut after {kept} of {dataLength} data bytes"; }
                        break;
                    case 5: (mutated, what) = SetExtreme(prefix, 0, random, width: 8); break; // the header size field
                    case 6:
                        {
                            var number = numbers[random.Next(numbers.Count)];
                            var value = ExtremeNumbers[random.Next(ExtremeNumbers.Length)];
                            mutated = Prefix(Replace(header, number.Index, number.Length, value));
                            what = $"header number '{number.Value}' at {number.Index} set to {value}";
                            break;
                        }
                    case 7:
                        {
                            var dtype = dtypes[random.Next(dtypes.Count)].Groups[1];
                            var value = DTypes[random.Next(DTypes.Length)];
                            mutated = Prefix(Replace(header, dtype.Index, dtype.Length, value));
                            what = $"dtype '{dtype.Value}' at {dtype.Index} set to '{value}'";
                            break;
                        }
                    case 8:
                        {
                            var text = Encoding.UTF8.GetBytes(header);
                            var (edited, how) = random.Next(3) switch
                            {
                                0 => Insert(text, random.Next(text.Length + 1), random, "{}[],:\"0-9e."),
                                1 => Delete(text, random.Next(text.Length), random),
                                _ => Truncate(text, random),
                            };
                            mutated = Prefix(Encoding.UTF8.GetString(edited));
                            what = $"header text {how}, size field rewritten";
                            break;
                        }
                    default:
                        {
                            var offset = random.NextInt64(dataLength);
                            dataFlip = (offset, data[offset]);
                            data[offset] ^= (byte)(1 << random.Next(8));
                            what = $"data byte {offset} flipped";
                            break;
                        }
                }
                var start = data - mutated.Length;
                mutated.CopyTo(new Span<byte>(start, mutated.Length));
                tally[Attempt(path, start, mutated.Length + kept, SafetensorsFile.ReadTensors, config, $"mutation {n}: {what}")]++;
                if (dataFlip is { } flip) data[flip.Offset] = flip.Value;
            }
            Report(tally);
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    [Theory]
    [InlineData("partial-rotary-f32")]
    [InlineData("full-rotary-f16")]
    public void Pytorch_fixture_mutated_300_ways_loads_or_is_refused_naming_the_file(string fixture)
    {
        var folder = ReferenceFixture.Load(fixture).Directory("pytorch");
        var path = Path.Combine(folder, "pytorch_model.bin");
        var config = GptjConfig.Load(Path.Combine(folder, "config.json"));
        var original = File.ReadAllBytes(path);
        var entries = TorchArchive.Unzip(original);
        var pickleIndex = entries.FindIndex(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal));
        var pickle = entries[pickleIndex].Data;
        var pickleIntegers = PickleIntegers(pickle);
        var zipFields = ZipIntegerFields(original);
        var structure = Structure(original, entries);

        byte[] Rearchived(byte[] mutatedPickle)
        {
            var copy = entries.ToList();
            copy[pickleIndex] = (copy[pickleIndex].Name, mutatedPickle);
            return TorchArchive.Zip(copy);
        }

        var random = new Random(Seed);
        var tally = new Dictionary<Outcome, int> { [Outcome.Loaded] = 0, [Outcome.Refused] = 0 };
        for (var n = 0; n < 300; n++)
        {
            byte[] mutated;
            string what;
            switch (n % 10)
            {
                case 0:
                    {
                        var at = structure[random.Next(structure.Count)];
                        (mutated, what) = FlipBits(original, at, at + 1, random);
                        break;
                    }
                case 1: (mutated, what) = SetExtreme(original, structure[random.Next(structure.Count)], random); break;
                case 2:
                    {
                        var (offset, width) = zipFields[random.Next(zipFields.Count)];
                        (mutated, what) = SetExtreme(original, offset, random, width);
                        what = "zip field: " + what;
                        break;
                    }
                case 3: (mutated, what) = Insert(original, structure[random.Next(structure.Count)], random); break;
                case 4: (mutated, what) = Delete(original, structure[random.Next(structure.Count)], random); break;
                case 5: (mutated, what) = Truncate(original, random); break;
                case 6:
                    {
                        var (edited, how) = FlipBits(pickle, 0, pickle.Length, random);
                        (mutated, what) = (Rearchived(edited), "pickle " + how);
                        break;
                    }
                case 7:
                    {
                        var (offset, width) = pickleIntegers[random.Next(pickleIntegers.Count)];
                        var (edited, how) = random.Next(3) == 0
                            ? WidenToLong1(pickle, offset, width, random)
                            : SetExtreme(pickle, offset, random, width);
                        (mutated, what) = (Rearchived(edited), "pickle integer: " + how);
                        break;
                    }
                case 8:
                    {
                        var (edited, how) = random.Next(2) == 0 ? Insert(pickle, random.Next(pickle.Length + 1), random) : Delete(pickle, random.Next(pickle.Length), random);
                        (mutated, what) = (Rearchived(edited), "pickle " + how);
                        break;
                    }
                default:
                    {
                        var (edited, how) = Truncate(pickle, random);
                        (mutated, what) = (Rearchived(edited), "pickle " + how);
                        break;
                    }
            }
            fixed (byte* bytes = mutated)
                tally[Attempt(path, bytes, mutated.Length, PytorchFile.ReadTensors, config, $"mutation {n}: {what}")]++;
        }
        Report(tally);
    }

    /// <summary>Both outcomes must occur, or the mutations did not reach what they were meant to test.</summary>
    private void Report(Dictionary<Outcome, int> tally)
    {
        output.WriteLine($"loaded {tally[Outcome.Loaded]}, refused {tally[Outcome.Refused]}");
        Assert.True(tally[Outcome.Loaded] > 0 && tally[Outcome.Refused] > 0, $"loaded {tally[Outcome.Loaded]}, refused {tally[Outcome.Refused]}");
    }

    /// <summary>Reads the bytes as <paramref name="path"/> into GPT-J weights; a load must leave every tensor inside the bytes.</summary>
    private static Outcome Attempt(string path, byte* bytes, long length, Func<MappedFile, List<CheckpointTensor>> read, GptjConfig config, string mutation)
    {
        try
        {
            using var checkpoint = Checkpoint.Read(path, [MappedFile.InMemory(path, bytes, length)], read);
            using var weights = GptjWeights.Load(checkpoint, config, null, NullLogger.Instance);
            foreach (var t in checkpoint.Tensors.Values)
                Assert.True(t.Data >= (nint)bytes && t.ByteCount <= (nint)bytes + length - t.Data,
                    $"{mutation}: tensor '{t.Name}' ({t.ByteCount} bytes) lies outside the {length}-byte file");
            return Outcome.Loaded;
        }
        catch (CheckpointFormatException e)
        {
            Assert.True(e.File == path && e.Message.StartsWith(path + ": ", StringComparison.Ordinal), $"{mutation}: error does not name the file: {e.Message}");
            return Outcome.Refused;
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"{mutation}: {e.GetType().Name} instead of a CheckpointFormatException: {e}");
            throw;
        }
    }

    private static (byte[], string) FlipBits(byte[] source, int from, int to, Random random)
    {
        var copy = (byte[])source.Clone();
        var flips = new List<string>();
        for (var k = random.Next(1, 5); k > 0; k--)
        {
            var at = random.Next(from, to);
            var bit = random.Next(8);
            copy[at] ^= (byte)(1 << bit);
            flips.Add($"{at}.{bit}");
        }
        return (copy, $"bits flipped at {string.Join(", ", flips)}");
    }

    private static (byte[], string) SetExtreme(byte[] source, int at, Random random, int? width = null)
    {
        var copy = (byte[])source.Clone();
        var w = Math.Min(width ?? (1 << random.Next(4)), copy.Length - at);
        var value = ExtremeIntegers[random.Next(ExtremeIntegers.Length)];
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        bytes[..w].CopyTo(copy.AsSpan(at));
        return (copy, $"{w} bytes at {at} set to 0x{value:x}");
    }

    /// <summary>Replaces a 1/2/4-byte pickle integer operand by LONG1 with 8 bytes of an extreme value (the pickle grows).</summary>
    private static (byte[], string) WidenToLong1(byte[] pickle, int at, int width, Random random)
    {
        var value = ExtremeIntegers[random.Next(ExtremeIntegers.Length)];
        var opcode = at - 1;
        if (pickle[opcode] is not ((byte)'K' or (byte)'M' or (byte)'J')) return SetExtreme(pickle, at, random, width);
        byte[] long1 = [0x8a, 8, .. BitConverter.GetBytes(value)];
        return ([.. pickle[..opcode], .. long1, .. pickle[(at + width)..]], $"integer at {opcode} widened to LONG1 0x{value:x}");
    }

    private static (byte[], string) Insert(byte[] source, int at, Random random, string? alphabet = null)
    {
        var inserted = new byte[random.Next(1, 17)];
        if (alphabet is null) random.NextBytes(inserted);
        else for (var i = 0; i < inserted.Length; i++) inserted[i] = (byte)alphabet[random.Next(alphabet.Length)];
        return ([.. source[..at], .. inserted, .. source[at..]], $"{inserted.Length} bytes inserted at {at}");
    }

    private static (byte[], string) Delete(byte[] source, int at, Random random)
    {
        var count = Math.Min(random.Next(1, 17), source.Length - at);
        return ([.. source[..at], .. source[(at + count)..]], $"{count} bytes deleted at {at}");
    }

    private static (byte[], string) Truncate(byte[] source, Random random)
    {
        var length = random.Next(source.Length);
        return (source[..length], $"cut to {length} of {source.Length} bytes");
    }

    private static string Replace(string text, int index, int length, string value) => text[..index] + value + text[(index + length)..];

    /// <summary>The safetensors size field and header for <paramref name="header"/>.</summary>
    private static byte[] Prefix(string header)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var prefix = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
        json.CopyTo(prefix, 8);
        return prefix;
    }

    [GeneratedRegex(@"-?\d+")]
    private static partial Regex JsonNumber();

    [GeneratedRegex("\"dtype\":\\s*\"([^\"]*)\"")]
    private static partial Regex JsonDType();

    /// <summary>Offsets of every byte of the archive outside tensor storage data: headers, pickle, directory.</summary>
    private static List<int> Structure(byte[] archive, List<(string Name, byte[] Data)> entries)
    {
        var storage = new bool[archive.Length];
        foreach (var (name, data) in entries.Where(e => e.Name.Contains("/data/", StringComparison.Ordinal) && e.Data.Length >= 64))
        {
            // Storage bytes are found by content: the first occurrence of a storage's first 64 bytes is its data.
            var at = archive.AsSpan().IndexOf(data.AsSpan(0, 64));
            Assert.True(at >= 0, $"storage {name} not found in the archive");
            storage.AsSpan(at, data.Length).Fill(true);
        }
        return Enumerable.Range(0, archive.Length).Where(i => !storage[i]).ToList();
    }

    /// <summary>(offset, width) of the integer fields of a zip's local headers, central directory and end record (APPNOTE 4.3).</summary>
    private static List<(int Offset, int Width)> ZipIntegerFields(byte[] zip)
    {
        var end = zip.Length - 22;
        Assert.Equal(0x06054b50u, BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(end)));
        var fields = new List<(int, int)> { (end + 8, 2), (end + 10, 2), (end + 12, 4), (end + 16, 4), (end + 20, 2) };
        var count = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(end + 10));
        var at = (int)BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(end + 16));
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(0x02014b50u, BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(at)));
            fields.AddRange([(at + 10, 2), (at + 20, 4), (at + 24, 4), (at + 28, 2), (at + 30, 2), (at + 32, 2), (at + 42, 4)]);
            var local = (int)BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(at + 42));
            fields.AddRange([(local + 18, 4), (local + 22, 4), (local + 26, 2), (local + 28, 2)]);
            at += 46 + BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(at + 28)) + BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(at + 30))
                  + BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(at + 32));
        }
        return fields;
    }

    /// <summary>(offset, width) of every integer operand in a state-dict pickle: ints, memo indexes, string lengths.</summary>
    private static List<(int Offset, int Width)> PickleIntegers(byte[] pickle)
    {
        var found = new List<(int, int)>();
        for (var i = 0; i < pickle.Length;)
        {
            switch (pickle[i++])
            {
                case 0x80: i += 1; break;                                          // PROTO
                case 0x95 or (byte)'G': i += 8; break;                             // FRAME, BINFLOAT
                case (byte)'K' or (byte)'q' or (byte)'h': found.Add((i, 1)); i += 1; break;
                case (byte)'M': found.Add((i, 2)); i += 2; break;
                case (byte)'J' or (byte)'r' or (byte)'j': found.Add((i, 4)); i += 4; break;
                case 0x8a: found.Add((i + 1, pickle[i])); i += 1 + pickle[i]; break; // LONG1
                case (byte)'X': found.Add((i, 4)); i += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(pickle.AsSpan(i)); break;
                case 0x8c: found.Add((i, 1)); i += 1 + pickle[i]; break;           // SHORT_BINUNICODE
                case (byte)'c': i = Array.IndexOf(pickle, (byte)'\n', Array.IndexOf(pickle, (byte)'\n', i) + 1) + 1; break;
                case (byte)'.': return found;
            }
        }
        return found;
    }
}
