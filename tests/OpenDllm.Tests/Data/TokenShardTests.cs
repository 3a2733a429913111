using System.Text.Json.Nodes;
using OpenDllm.Data;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Data;

public sealed class TokenShardTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    string Out => _temp.Combine("shards");

    [Fact]
    public void RoundTripsTokensAndDocumentOffsetsAcrossShards()
    {
        var corpus = ListCorpus.Numbered(40);
        var manifest = CorpusPreparer.Prepare(corpus, ByteTokenizer.Instance, Out,
            new PrepareOptions { ValidationFraction = 0.25, Seed = 3, ShardTokens = 64 });

        Assert.Equal(TokenDType.UInt16, manifest.Dtype);
        Assert.Equal(new ShardTokenizer("byte-v1", 262, 256), manifest.Tokenizer);
        using var set = TokenShardSet.Open(Out);
        Assert.True(set.Train.Shards.Count > 1);
        var expected = new Dictionary<string, List<int[]>> { ["train"] = [], ["validation"] = [] };
        foreach (var doc in ((ICorpus)corpus).ReadAsync().ToBlockingEnumerable())
        {
            var split = DocumentSplit.IsValidation(doc.Id, 3, 0.25) ? "validation" : "train";
            expected[split].Add([.. ByteTokenizer.Instance.Encode(doc.Text), 256]);
        }
        foreach (var (name, docs) in expected)
        {
            var split = set.Split(name);
            Assert.Equal(docs.Count, split.DocumentCount);
            Assert.Equal(docs.Sum(d => d.Length), split.TokenCount);
            Assert.Equal(docs.Count, manifest.Splits[name].Documents);
            long position = 0;
            for (int d = 0; d < docs.Count; d++)
            {
                Assert.Equal(position, split.DocumentStart(d));
                Assert.Equal(docs[d], split.ReadDocument(d));
                Assert.Equal(d, split.DocumentAt(position));
                Assert.Equal(d, split.DocumentAt(position + docs[d].Length - 1));
                position += docs[d].Length;
            }
            var all = new int[split.TokenCount];
            split.ReadTokens(0, all);
            Assert.Equal(docs.SelectMany(d => d), all);
        }
        Assert.Equal(40, manifest.Corpus.Documents);
    }

    [Fact]
    public void Int32ShardsForLargeVocabularies()
    {
        var tokenizer = new WideTokenizer();
        CorpusPreparer.Prepare(ListCorpus.Numbered(5), tokenizer, Out, new PrepareOptions { ValidationFraction = 0 });
        using var set = TokenShardSet.Open(Out);
        Assert.Equal(TokenDType.Int32, set.Manifest.Dtype);
        Assert.Equal([70_000, 70_001, 100_000], set.Train.ReadDocument(0)[..3]);
        Assert.Equal(0, set.Validation.DocumentCount);
    }

    [Fact]
    public void FlippedByteInAShardIsDetected()
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(20), ByteTokenizer.Instance, Out, new PrepareOptions { ShardTokens = 64 });
        var file = Path.Combine(Out, "train-00001.tokens");
        var bytes = File.ReadAllBytes(file);
        bytes[3] ^= 0x01;
        File.WriteAllBytes(file, bytes);

        var e = Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(Out));
        Assert.Contains(file, e.Message);
        Assert.Contains("SHA-256", e.Message);
        using (TokenShardSet.Open(Out, verify: false)) { }   // the size still matches: skipping verification opens it

        File.WriteAllBytes(file, bytes[..^2]);                  // truncated: caught even without verification
        var truncated = Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(Out, verify: false));
        Assert.Contains(file, truncated.Message);
    }

    [Fact]
    public void CorruptOffsetsAreDetectedWithoutVerification()
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(10), ByteTokenizer.Instance, Out);
        var file = Path.Combine(Out, "train-00000.offsets");
        var bytes = File.ReadAllBytes(file);
        bytes[8] ^= 0x01;   // first document's end moves by one: no longer after an EOS
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(Out, verify: false));
        Assert.Contains("train-00000", e.Message);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("token count")]
    [InlineData("unknown key")]
    [InlineData("missing key")]
    [InlineData("format")]
    public void DamagedManifestIsDetected(string damage)
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(10), ByteTokenizer.Instance, Out);
        var path = Path.Combine(Out, ShardManifest.FileName);
        var text = File.ReadAllText(path);
        var json = JsonNode.Parse(text)!.AsObject();
        switch (damage)
        {
            case "truncated": text = text[..(text.Length / 2)]; break;
            case "token count":
                json["splits"]!["train"]!["shards"]![0]!["tokens"] = json["splits"]!["train"]!["shards"]![0]!["tokens"]!.GetValue<long>() + 1;
                json["splits"]!["train"]!["tokens"] = json["splits"]!["train"]!["tokens"]!.GetValue<long>() + 1;
                text = json.ToJsonString();
                break;
            case "unknown key": json["extra"] = 1; text = json.ToJsonString(); break;
            case "missing key": json.Remove("tokenizer"); text = json.ToJsonString(); break;
            case "format": json["format"] = "something-else"; text = json.ToJsonString(); break;
        }
        File.WriteAllText(path, text);
        var e = Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(Out, verify: false));
        Assert.Contains(damage == "token count" ? "train-00000.tokens" : path, e.Message);
    }

    /// <summary>Maps each character to 70,000 + its code, so ids need int32; vocabulary 100,001 with EOS 100,000.</summary>
    sealed class WideTokenizer : ITokenizer
    {
        public string Name => "wide-test";
        public int VocabSize => 100_001;
        public SpecialTokens Special { get; } = new() { Eos = 100_000, Pad = 100_000, Mask = 99_999 };
        public IReadOnlyList<int> Encode(string text) => [70_000, 70_001, 100_000, .. text.Select(c => 70_000 + c)];
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) => "";
        public void Save(string directory) { }
    }
}
