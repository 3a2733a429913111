using OpenDllm.Cli;
using OpenDllm.Data;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Data;

/// <summary>The <c>python-docstrings</c> corpus over a small stdlib-like folder written here (<see cref="PythonDocstringCorpus"/>).</summary>
public sealed class PythonDocstringCorpusTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    const string Boilerplate = "Return self, unchanged, for use in a with statement block.";

    /// <summary>A folder shaped like a stdlib: modules, a package, a test suite and site-packages.</summary>
    string Stdlib()
    {
        _temp.Write("lib/zeta.py", $$""""
            """The zeta module computes values of the Riemann zeta function slowly."""

            # Terms are summed from the largest to the smallest so that rounding
            # errors stay as small as they can be.
            def zeta(s):
                """Return an approximation of zeta at s.

                >>> round(zeta(2), 3)
                1.645

                The sum stops after ten thousand terms.
                """
                return sum(1 / n ** s for n in range(1, 10000))

            class Context:
                def __enter__(self):
                    """{{Boilerplate}}"""
                    return self

                def short(self):
                    "Too short."

                def table(self):
                    """|  1  |  2  |  3  |  4  |  5  |  6  |  7  |  8  |  9  |"""
            """");
        _temp.Write("lib/alpha/__init__.py", $$""""
            """The alpha package holds helpers that are shared by other modules."""

            class Reader:
                def __enter__(self):
                    """{{Boilerplate}}"""
                    return self
            """");
        _temp.Write("lib/test/test_zeta.py", "\"\"\"Tests of the zeta module, which a stdlib corpus leaves out.\"\"\"\n");
        _temp.Write("lib/site-packages/third.py", "\"\"\"A third-party module that is not part of the standard library.\"\"\"\n");
        return _temp.Combine("lib");
    }

    static List<Document> Read(ICorpus corpus) => corpus.ReadAsync().ToBlockingEnumerable().ToList();

    [Fact]
    public void KeepsProseInPathAndLineOrderWithoutDoctestsShortTextsTablesOrDuplicates()
    {
        var corpus = new PythonDocstringCorpus(Stdlib());
        var docs = Read(corpus);
        Assert.Equal(["alpha/__init__.py:1", "alpha/__init__.py:5", "zeta.py:1", "zeta.py:3", "zeta.py:6"], docs.Select(d => d.Id));
        Assert.Equal(Boilerplate, docs[1].Text);                                  // kept once: zeta.py's copy is a duplicate
        Assert.Equal("Terms are summed from the largest to the smallest so that rounding\nerrors stay as small as they can be.", docs[3].Text);
        Assert.Equal("Return an approximation of zeta at s.\n\nThe sum stops after ten thousand terms.", docs[4].Text);
        Assert.Equal(5, corpus.Stats.Documents);
        var prose = corpus.Prose;
        Assert.Equal((2L, 7L, 1L), (prose.Files, prose.Docstrings, prose.CommentBlocks));
        Assert.Equal((1L, 1L, 1L, 5L), (prose.DroppedShort, prose.DroppedNotProse, prose.DroppedDuplicate, prose.Kept));
        Assert.Equal(docs.Sum(d => d.Text.Length), prose.Characters);
        Assert.Equal(docs.Sum(d => d.Text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length), prose.Words);
    }

    [Fact]
    public void OptionsChangeWhatIsKept()
    {
        var root = Stdlib();
        var docstringsOnly = Read(new PythonDocstringCorpus(root, new PythonDocstringsOptions { IncludeComments = false }));
        Assert.DoesNotContain(docstringsOnly, d => d.Id == "zeta.py:3");
        Assert.Equal(4, docstringsOnly.Count);
        var lenient = Read(new PythonDocstringCorpus(root, new PythonDocstringsOptions { MinChars = 5, MinLetterShare = 0 }));
        Assert.Contains(lenient, d => d.Text == "Too short.");
        Assert.Contains(lenient, d => d.Text.StartsWith('|'));
        Assert.Throws<ArgumentException>(() => new PythonDocstringCorpus(root, new PythonDocstringsOptions { MinLetterShare = 1.5 }));
        Assert.Throws<ArgumentException>(() => new PythonDocstringCorpus(root, new PythonDocstringsOptions { MinChars = 0 }));
    }

    [Fact]
    public void TwoPassesAndTwoCorporaReadTheSameDocuments()
    {
        var root = Stdlib();
        var corpus = new PythonDocstringCorpus(root);
        var first = Read(corpus);
        Assert.Equal(first, Read(corpus));                                         // the duplicate filter starts afresh each pass
        Assert.Equal(first, Read(new PythonDocstringCorpus(root)));
    }

    [Fact]
    public void TheIdentityRecordsTheKindTheRulesAndTheFiles()
    {
        var root = Stdlib();
        var identity = new PythonDocstringCorpus(root).Identity();
        Assert.Equal(PythonDocstringCorpus.Kind, identity.Kind);
        Assert.Equal(root, identity.Path);
        Assert.Equal(2, identity.Files.Count);                                     // test/ and site-packages/ are not read
        Assert.Equal(new PythonDocstringsOptions().Key(), identity.Extraction);
        Assert.Contains("v" + PythonDocstringsOptions.ExtractorVersion, identity.Extraction);
        Assert.Empty(identity.Differences(new PythonDocstringCorpus(root).Identity()));

        var noComments = new PythonDocstringCorpus(root, new PythonDocstringsOptions { IncludeComments = false }).Identity();
        var longer = new PythonDocstringCorpus(root, new PythonDocstringsOptions { MinChars = 41 }).Identity();
        Assert.Contains(identity.Differences(noComments), d => d.StartsWith("extraction") && d.Contains("comments=false"));
        Assert.Contains(identity.Differences(longer), d => d.StartsWith("extraction") && d.Contains("min_chars=41"));
        var options = new PrepareOptions();
        Assert.NotEqual(PreparedData.DefaultFolder(identity, ByteTokenizer.Instance, options),
                        PreparedData.DefaultFolder(noComments, ByteTokenizer.Instance, options));
        Assert.Null(DefaultCorpus.Create(root).Identity().Extraction);             // other kinds keep their identity as before
    }

    [Fact]
    public void APreparedStdlibFolderIsNotReusedForDocstringsNorTheOtherWayRound()
    {
        var root = Stdlib();
        var options = new PrepareOptions { ValidationFraction = 0.2 };
        var stdlib = DefaultCorpus.Create(root);
        var docstrings = new PythonDocstringCorpus(root);
        var code = CorpusPreparer.Prepare(stdlib, ByteTokenizer.Instance, _temp.Combine("code"), options);
        var prose = CorpusPreparer.Prepare(docstrings, ByteTokenizer.Instance, _temp.Combine("prose"), options);

        Assert.Empty(PreparedData.Differences(code, stdlib.Identity(), ByteTokenizer.Instance, options));
        Assert.Contains(PreparedData.Differences(code, docstrings.Identity(), ByteTokenizer.Instance, options), d => d.StartsWith("source"));
        Assert.NotEqual(PreparedData.DefaultFolder(stdlib.Identity(), ByteTokenizer.Instance, options),
                        PreparedData.DefaultFolder(docstrings.Identity(), ByteTokenizer.Instance, options));

        var reloaded = ShardManifest.Load(Path.Combine(_temp.Combine("prose"), ShardManifest.FileName));   // the rules survive the manifest
        Assert.Equal(docstrings.Options.Key(), reloaded.Identity!.Extraction);
        Assert.Empty(PreparedData.Differences(reloaded, docstrings.Identity(), ByteTokenizer.Instance, options));
        Assert.Contains(PreparedData.Differences(reloaded, stdlib.Identity(), ByteTokenizer.Instance, options), d => d.StartsWith("source"));
        var other = new PythonDocstringCorpus(root, new PythonDocstringsOptions { IncludeComments = false });
        Assert.Contains(PreparedData.Differences(reloaded, other.Identity(), ByteTokenizer.Instance, options), d => d.StartsWith("extraction"));
        Assert.Equal(5, prose.Splits.Values.Sum(s => s.Documents));
        Assert.DoesNotContain("\"extraction\"", File.ReadAllText(Path.Combine(_temp.Combine("code"), ShardManifest.FileName)));
    }

    [Fact]
    public void CorporaCreatesItAndRefusesWhatItCannotUse()
    {
        var root = Stdlib();
        Assert.Contains(PythonDocstringCorpus.Kind, Corpora.Kinds);
        var corpus = Assert.IsType<PythonDocstringCorpus>(Corpora.Create(PythonDocstringCorpus.Kind, root));
        Assert.Equal(root, corpus.Root);
        var options = new PythonDocstringsOptions { IncludeComments = false };
        Assert.Same(options, ((PythonDocstringCorpus)Corpora.Create(PythonDocstringCorpus.Kind, root, docstringOptions: options)).Options);
        Assert.Contains("jsonl and parquet", Assert.Throws<ArgumentException>(() => Corpora.Create(PythonDocstringCorpus.Kind, root, "text")).Message);
        Assert.Contains("needs a folder", Assert.Throws<ArgumentException>(() => Corpora.Create(PythonDocstringCorpus.Kind, Path.Combine(root, "zeta.py"))).Message);
        Assert.Contains(PythonDocstringCorpus.Kind, Assert.Throws<ArgumentException>(() => Corpora.Create("folder", root, docstringOptions: options)).Message);
    }

    [Fact]
    public void TheCliPreparesAndShowsTheCorpus()
    {
        var root = Stdlib();
        var output = _temp.Combine("shards");
        Assert.Equal(0, CliApp.Run(["prepare", "--source", PythonDocstringCorpus.Kind, "--path", root, "--out", output, "--no-comments"]));
        using (var set = TokenShardSet.Open(output))
        {
            Assert.Equal(4, set.Train.DocumentCount + set.Validation.DocumentCount);
            Assert.Contains("comments=false", set.Manifest.Identity!.Extraction);
        }
        Assert.Equal(1, CliApp.Run(["prepare", "--source", "folder", "--path", root, "--out", _temp.Combine("other"), "--no-comments"]));
        Assert.False(Directory.Exists(_temp.Combine("other")));
        Assert.Equal(0, CliApp.Run(["data", "docstrings", "--path", root, "--samples", "2", "--seed", "3"]));
        Assert.Equal(1, CliApp.Run(["data", "docstrings", "--path", Path.Combine(root, "zeta.py")]));
    }
}
