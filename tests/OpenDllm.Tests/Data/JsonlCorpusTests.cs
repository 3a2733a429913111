using OpenDllm.Data;

namespace OpenDllm.Tests.Data;

public sealed class JsonlCorpusTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ReadsTheFieldSkipsNullsAndBlankLines()
    {
        var file = _temp.Write("data.jsonl", "{\"text\": \"one\", \"id\": 7}\n\n{\"text\": null}\n{\"text\": \"two\\nlines\"}\n");
        var corpus = new JsonlCorpus(file);

        var docs = await corpus.ReadAsync().ToListAsync();

        Assert.Equal([new Document("data.jsonl:1", "one"), new Document("data.jsonl:4", "two\nlines")], docs);
        Assert.Equal(1, corpus.Stats.SkippedEmpty);
        Assert.Equal("7", (await new JsonlCorpus(file, idField: "id").ReadAsync().ToListAsync())[0].Id);
    }

    [Fact]
    public async Task MissingFieldNamesFileLineAndField()
    {
        var file = _temp.Write("bad.jsonl", "{\"content\": \"a\"}\n{\"code\": \"b\", \"lang\": \"py\"}\n");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new JsonlCorpus(file, "content").ReadAsync().ToListAsync());
        Assert.Contains($"{file}:2", e.Message);
        Assert.Contains("\"content\"", e.Message);
        Assert.Contains("code, lang", e.Message);
    }

    [Fact]
    public async Task FolderOfFilesAndEmptyCorpus()
    {
        _temp.Write("shards/b.jsonl", "{\"text\": \"b\"}\n");
        _temp.Write("shards/a.jsonl", "{\"text\": \"a\"}\n");
        var docs = await new JsonlCorpus(_temp.Combine("shards")).ReadAsync().ToListAsync();
        Assert.Equal(["a.jsonl:1", "b.jsonl:1"], docs.Select(d => d.Id));

        var empty = _temp.Write("empty.jsonl", "\n{\"text\": \"\"}\n");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new JsonlCorpus(empty).ReadAsync().ToListAsync());
        Assert.Contains("empty", e.Message);
    }
}
