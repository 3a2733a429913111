namespace OpenDllm.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet (<c>bytes_to_unicode</c>): every byte 0–255 is shown as one printable
/// character, so byte-level BPE vocabularies are plain strings (space is <c>Ġ</c>, newline <c>Ċ</c>).
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>Character for each byte value.</summary>
    public static readonly char[] ByteToChar;

    /// <summary>Byte value for each character code below 324, or -1 for characters outside the alphabet.</summary>
    private static readonly short[] CharToByte;

    static ByteLevelAlphabet()
    {
        ByteToChar = new char[256];
        var direct = new bool[256];
        for (int b = '!'; b <= '~'; b++) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) direct[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++)
            ByteToChar[b] = direct[b] ? (char)b : (char)(256 + n++);

        CharToByte = new short[256 + n];
        Array.Fill(CharToByte, (short)-1);
        for (int b = 0; b < 256; b++) CharToByte[ByteToChar[b]] = (short)b;
    }

    /// <summary>
    /// Appends the bytes a byte-level token stands for. Characters outside the alphabet (which a
    /// well-formed vocabulary does not contain) are appended as their own UTF-8 encoding.
    /// </summary>
    public static void AppendBytes(string token, List<byte> into)
    {
        Span<byte> buf = stackalloc byte[4];
        foreach (char c in token)
        {
            if (c < CharToByte.Length && CharToByte[c] >= 0)
            {
                into.Add((byte)CharToByte[c]);
            }
            else
            {
                int len = System.Text.Encoding.UTF8.GetBytes([c], buf);
                for (int i = 0; i < len; i++) into.Add(buf[i]);
            }
        }
    }
}
