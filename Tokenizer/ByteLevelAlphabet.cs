namespace GptjAspire.Tokenizer;

/// <summary>GPT-2's reversible map between bytes and printable Unicode characters used to spell byte-level BPE tokens.</summary>
internal static class ByteLevelAlphabet
{
    // HF ByteLevel `bytes_char`: printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to themselves,
    // every other byte to U+0100 + n in ascending byte order.
    private static readonly char[] ByteToCharTable = BuildByteToChar();
    private static readonly short[] CharToByteTable = BuildCharToByte(ByteToCharTable);

    public static char ByteToChar(byte b) => ByteToCharTable[b];

    /// <summary>The byte a token character stands for, or -1 when the character is outside the alphabet.</summary>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)(256 + n++);
        }
        return table;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var table = new short[512];
        Array.Fill(table, (short)-1);
        for (var b = 0; b < 256; b++)
        {
            table[byteToChar[b]] = (short)b;
        }
        return table;
    }
}
