using OpenDllm.Data;
using Parquet;
using Parquet.Schema;

namespace OpenDllm.Tests.Data;

public sealed class ParquetCorpusTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Writes one row group per element of <paramref name="groups"/>: a nullable string column and an int64 id.</summary>
    static async Task WriteAsync(string path, string column, params string?[][] groups)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var text = new DataField(column, typeof(string), true);
        var id = new DataField<long>("id");
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(id, text), stream,
            new ParquetOptions { CompressionMethod = CompressionMethod.Zstd });
        long next = 0;
        foreach (var group in groups)
        {
            using var rowGroup = writer.CreateRowGroup();
            var ids = Enumerable.Range(0, group.Length).Select(_ => next++).ToArray();
            await rowGroup.WriteAsync<long>(id, ids.AsMemory());
            await rowGroup.WriteAsync(text, group);
        }
    }

    [Fact]
    public async Task ReadsRowGroupsAndSkipsNulls()
    {
        var file = _temp.Combine("data.parquet");
        await WriteAsync(file, "content", ["def f():\n    pass\n", null, "x = 1"], [null, "import os"], ["last", ""]);
        var corpus = new ParquetCorpus(file, "content");

        var docs = await corpus.ReadAsync().ToListAsync();

        Assert.Equal(["data.parquet:0", "data.parquet:2", "data.parquet:4", "data.parquet:5"], docs.Select(d => d.Id));
        Assert.Equal(["def f():\n    pass\n", "x = 1", "import os", "last"], docs.Select(d => d.Text));
        Assert.Equal(3, corpus.Stats.SkippedEmpty);
        Assert.Equal(new FileInfo(file).Length, corpus.Stats.BytesRead);
    }

    [Fact]
    public async Task FolderOfShardsWithTheDefaultColumn()
    {
        await WriteAsync(_temp.Combine("ds", "data", "train-00001-of-00002.parquet"), "text", ["b0", "b1"]);
        await WriteAsync(_temp.Combine("ds", "data", "train-00000-of-00002.parquet"), "text", ["a0"], ["a1"]);

        var docs = await new ParquetCorpus(_temp.Combine("ds")).ReadAsync().ToListAsync();

        Assert.Equal(["a0", "a1", "b0", "b1"], docs.Select(d => d.Text));
        Assert.Equal("data/train-00001-of-00002.parquet:1", docs[^1].Id);
    }

    [Fact]
    public async Task MissingColumnNamesTheFileAndListsTheColumns()
    {
        var file = _temp.Combine("code.parquet");
        await WriteAsync(file, "body", ["x"]);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new ParquetCorpus(file, "content").ReadAsync().ToListAsync());
        Assert.Contains(file, e.Message);
        Assert.Contains("\"content\"", e.Message);
        Assert.Contains("id (Int64)", e.Message);
        Assert.Contains("body (string)", e.Message);

        var wrongType = await Assert.ThrowsAsync<InvalidDataException>(() => new ParquetCorpus(file, "id").ReadAsync().ToListAsync());
        Assert.Contains("expected strings", wrongType.Message);
    }

    [Fact]
    public async Task EmptyCorpusIsAClearError()
    {
        var file = _temp.Combine("nulls.parquet");
        await WriteAsync(file, "content", new string?[] { null, null });
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new ParquetCorpus(file).ReadAsync().ToListAsync());
        Assert.Contains("empty", e.Message);
        Directory.CreateDirectory(_temp.Combine("none"));
        await Assert.ThrowsAsync<InvalidDataException>(() => new ParquetCorpus(_temp.Combine("none")).ReadAsync().ToListAsync());
    }
}
