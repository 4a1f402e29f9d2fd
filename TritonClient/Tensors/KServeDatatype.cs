using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.TritonClient.Tensors;

/// <summary>The KServe v2 tensor datatype strings and their sizes and model-configuration equivalents.</summary>
public static class KServeDatatype
{
    public const string Bool = "BOOL";
    public const string UInt8 = "UINT8";
    public const string UInt16 = "UINT16";
    public const string UInt32 = "UINT32";
    public const string UInt64 = "UINT64";
    public const string Int8 = "INT8";
    public const string Int16 = "INT16";
    public const string Int32 = "INT32";
    public const string Int64 = "INT64";
    public const string Fp16 = "FP16";
    public const string Fp32 = "FP32";
    public const string Fp64 = "FP64";
    public const string Bf16 = "BF16";
    public const string Bytes = "BYTES";

    /// <summary>Bytes per element in raw form, or null for BYTES (variable length) and unknown names.</summary>
    public static int? ElementSize(string datatype) => datatype switch
    {
        Bool or UInt8 or Int8 => 1,
        UInt16 or Int16 or Fp16 or Bf16 => 2,
        UInt32 or Int32 or Fp32 => 4,
        UInt64 or Int64 or Fp64 => 8,
        _ => null,
    };

    /// <summary>True for the names the KServe v2 protocol defines.</summary>
    public static bool IsKnown(string datatype) => datatype == Bytes || ElementSize(datatype) is not null;

    /// <summary>The model-configuration enum for a datatype string (BYTES is TYPE_STRING there).</summary>
    public static DataType ToConfig(string datatype) => datatype switch
    {
        Bool => DataType.TypeBool,
        UInt8 => DataType.TypeUint8,
        UInt16 => DataType.TypeUint16,
        UInt32 => DataType.TypeUint32,
        UInt64 => DataType.TypeUint64,
        Int8 => DataType.TypeInt8,
        Int16 => DataType.TypeInt16,
        Int32 => DataType.TypeInt32,
        Int64 => DataType.TypeInt64,
        Fp16 => DataType.TypeFp16,
        Fp32 => DataType.TypeFp32,
        Fp64 => DataType.TypeFp64,
        Bf16 => DataType.TypeBf16,
        Bytes => DataType.TypeString,
        _ => throw new ArgumentException($"'{datatype}' is not a KServe v2 datatype.", nameof(datatype)),
    };

    /// <summary>The datatype string for a model-configuration enum value (TYPE_STRING is BYTES).</summary>
    public static string FromConfig(DataType type) => type switch
    {
        DataType.TypeBool => Bool,
        DataType.TypeUint8 => UInt8,
        DataType.TypeUint16 => UInt16,
        DataType.TypeUint32 => UInt32,
        DataType.TypeUint64 => UInt64,
        DataType.TypeInt8 => Int8,
        DataType.TypeInt16 => Int16,
        DataType.TypeInt32 => Int32,
        DataType.TypeInt64 => Int64,
        DataType.TypeFp16 => Fp16,
        DataType.TypeFp32 => Fp32,
        DataType.TypeFp64 => Fp64,
        DataType.TypeBf16 => Bf16,
        DataType.TypeString => Bytes,
        _ => throw new ArgumentException($"{type} has no KServe v2 datatype.", nameof(type)),
    };
}
