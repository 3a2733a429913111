using System.Text;
using OpenDllm.Data;
using Parquet;
using Parquet.Schema;

namespace OpenDllm.Tests.Data;

/// <summary>Damaged Parquet files give one line naming the file (and row group / column where known), never a library stack.</summary>
public sealed class ParquetCorruptionTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    static readonly string[] Texts = Enumerable.Range(0, 40).Select(i => $"def function_{i}(x):\n    return x * {i} + {i * 7}\n").ToArray();

    /// <summary>An uncompressed file with one text column in two row groups; returns its bytes.</summary>
    async Task<byte[]> WriteAsync(string path)
    {
        var text = new DataField("content", typeof(string), true);
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), stream,
                         new ParquetOptions { CompressionMethod = CompressionMethod.None }))
        {
            foreach (var half in Texts.Chunk(Texts.Length / 2))
            {
                using var rowGroup = writer.CreateRowGroup();
                await rowGroup.WriteAsync(text, half);
            }
        }
        return File.ReadAllBytes(path);
    }

    static async Task<InvalidDataException> ReadFails(string path) =>
        await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (var _ in new ParquetCorpus(path).ReadAsync()) { }
        });

    static void AssertOneLineNaming(InvalidDataException e, string path)
    {
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain("   at ", e.Message);
    }

    /// <summary>
    /// Regression: a value whose stored length overruns its data page made the Parquet library throw a bare
    /// IndexOutOfRangeException (25 lines of stack, no file name).
    /// </summary>
    [Fact]
    public async Task ACorruptDataPageNamesTheFileRowGroupAndColumn()
    {
        var path = _temp.Combine("page.parquet");
        var text = new DataField("content", typeof(string), true);
        var values = Enumerable.Range(0, 40).Select(i => $"print({i % 4})\n").ToArray();
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), stream, new ParquetOptions { CompressionMethod = CompressionMethod.None }))
        {
            using var rowGroup = writer.CreateRowGroup();
            await rowGroup.WriteAsync(text, values);
        }
        var bytes = File.ReadAllBytes(path);
        // plain-encoded strings are stored as a 4-byte little-endian length and the bytes; the 21st value's length
        // becomes 255, which runs past the end of the page
        var stored = BitConverter.GetBytes(values[0].Length).Concat(Encoding.UTF8.GetBytes(values[0])).ToArray();
        var starts = Enumerable.Range(0, bytes.Length - stored.Length)
            .Where(i => bytes.AsSpan(i, 4).SequenceEqual(stored.AsSpan(0, 4)) && bytes.AsSpan(i + 4, 6).SequenceEqual("print("u8)).ToList();
        Assert.Equal(values.Length, starts.Count);                          // every value stored plainly, in order
        bytes[starts[20]] = 0xFF;
        File.WriteAllBytes(path, bytes);

        var e = await ReadFails(path);

        AssertOneLineNaming(e, path);
        Assert.Contains("row group 0", e.Message);
        Assert.Contains("\"content\"", e.Message);
    }

    [Fact]
    public async Task ACorruptFooterNamesTheFile()
    {
        var path = _temp.Combine("footer.parquet");
        var bytes = await WriteAsync(path);
        int footerLength = BitConverter.ToInt32(bytes, bytes.Length - 8);
        var rng = new Random(3);
        for (int i = bytes.Length - 8 - footerLength; i < bytes.Length - 8; i++) bytes[i] = (byte)rng.Next(256);
        File.WriteAllBytes(path, bytes);

        AssertOneLineNaming(await ReadFails(path), path);
    }

    [Fact]
    public async Task AZeroedFooterNamesTheFile()
    {
        var path = _temp.Combine("zero.parquet");
        var bytes = await WriteAsync(path);
        int footerLength = BitConverter.ToInt32(bytes, bytes.Length - 8);
        Array.Clear(bytes, bytes.Length - 8 - footerLength, footerLength);
        File.WriteAllBytes(path, bytes);

        AssertOneLineNaming(await ReadFails(path), path);
    }

    [Fact]
    public async Task ATruncatedFileNamesTheFile()
    {
        var path = _temp.Combine("cut.parquet");
        var bytes = await WriteAsync(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        AssertOneLineNaming(await ReadFails(path), path);
    }

    /// <summary>Every single-byte corruption of the page area either reads (the damage hit nothing checked) or fails with one line.</summary>
    [Fact]
    public async Task ScatteredByteDamageNeverEscapesAsAnotherException()
    {
        var path = _temp.Combine("scatter.parquet");
        var clean = await WriteAsync(path);
        int footerLength = BitConverter.ToInt32(clean, clean.Length - 8);
        var rng = new Random(11);
        for (int trial = 0; trial < 60; trial++)
        {
            var bytes = (byte[])clean.Clone();
            int at = 4 + rng.Next(clean.Length - 12 - footerLength);
            bytes[at] ^= (byte)(1 + rng.Next(255));
            File.WriteAllBytes(path, bytes);
            try
            {
                await foreach (var _ in new ParquetCorpus(path).ReadAsync()) { }
            }
            catch (InvalidDataException e)
            {
                AssertOneLineNaming(e, path);
            }
        }
    }
}
