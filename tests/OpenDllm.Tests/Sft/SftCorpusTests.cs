using OpenDllm.Data;
using OpenDllm.Tests.Data;

namespace OpenDllm.Tests.Sft;

/// <summary>Prompt/response JSONL and chat messages: parsing, the ChatML rendering, and errors naming file, line and field.</summary>
public sealed class SftCorpusTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ReadsPromptResponseAndMessages()
    {
        var file = _temp.Write("sft.jsonl",
            "{\"prompt\": \"p1\", \"response\": \"r1\", \"id\": 7}\n\n" +
            "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}], \"split\": \"validation\"}\n" +
            "{\"prompt\": \"\", \"response\": \"\"}\n");
        var corpus = new SftCorpus(file);

        var docs = await corpus.ReadAsync().ToListAsync();

        Assert.Equal(2, docs.Count);
        Assert.Equal(new Document("7", "r1", "p1"), docs[0]);
        Assert.Equal("sft.jsonl:3", docs[1].Id);
        Assert.Equal("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", docs[1].Prompt);
        Assert.Equal("hello", docs[1].Text);
        Assert.Equal(DocumentSplit.Validation, docs[1].Split);
        Assert.Equal(1, corpus.Stats.SkippedEmpty);
        Assert.Equal("sft", corpus.Identity().Kind);
    }

    [Theory]
    [InlineData("{\"prompt\": \"p\"}", "\"response\"")]
    [InlineData("{\"response\": \"r\", \"text\": \"x\"}", "\"prompt\"")]
    [InlineData("{\"prompt\": 3, \"response\": \"r\"}", "field \"prompt\" is Number")]
    [InlineData("{\"prompt\": \"p\", \"response\": [\"r\"]}", "field \"response\" is Array")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}", "must have role \"assistant\"")]
    [InlineData("{\"messages\": []}", "\"messages\" is empty")]
    [InlineData("{\"messages\": \"hi\"}", "field \"messages\" is String")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}]}", "field \"messages[0]\" has no \"content\"")]
    [InlineData("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}", "\"messages[0].role\" is \"robot\"")]
    [InlineData("{\"messages\": [{\"role\": \"assistant\", \"content\": 1}]}", "\"messages[0].content\" is Number")]
    [InlineData("{\"messages\": [], \"prompt\": \"p\", \"response\": \"r\"}", "not both")]
    [InlineData("{\"prompt\": \"p\", \"response\": \"r\", \"split\": \"test\"}", "field \"split\"")]
    [InlineData("{\"prompt\": \"p\", \"response\": \"r\", \"id\": [1]}", "field \"id\"")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"prompt\": ", "not valid JSON")]
    public async Task ErrorsNameFileLineAndField(string badLine, string expected)
    {
        var file = _temp.Write("bad.jsonl", "{\"prompt\": \"ok\", \"response\": \"ok\"}\n" + badLine + "\n");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new SftCorpus(file).ReadAsync().ToListAsync());
        Assert.StartsWith($"{file}:2: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void CorporaKnowsTheKindAndRefusesAField()
    {
        var file = _temp.Write("a.jsonl", "{\"prompt\": \"p\", \"response\": \"r\"}\n");
        Assert.IsType<SftCorpus>(Corpora.Create("sft", file));
        Assert.Contains("sft", Assert.Throws<ArgumentException>(() => Corpora.Create("sft", file, "text")).Message);
    }
}
