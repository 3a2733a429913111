using OpenDllm.Data;

namespace OpenDllm.Tests.Data;

public sealed class FolderCorpusTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task SkipsBinaryAndNonUtf8FilesAndCountsThem()
    {
        _temp.Write("a.py", "print('a')\n");
        _temp.Write("sub/b.py", "# ünïcode ok\n");
        _temp.WriteBytes("sub/c.py", [0x70, 0x00, 0x71]);                 // NUL byte: binary
        _temp.WriteBytes("d.py", [0x61, 0xC3, 0x28, 0x62]);               // invalid UTF-8
        _temp.WriteBytes("e.py", [0xEF, 0xBB, 0xBF, 0x78, 0x3D, 0x31]);   // BOM dropped
        var corpus = new FolderCorpus(_temp.Path);

        var docs = await corpus.ReadAsync().ToListAsync();

        Assert.Equal(["a.py", "e.py", "sub/b.py"], docs.Select(d => d.Id));
        Assert.Equal("x=1", docs[1].Text);
        Assert.Equal("# ünïcode ok\n", docs[2].Text);
        Assert.Equal(1, corpus.Stats.SkippedBinary);
        Assert.Equal(1, corpus.Stats.SkippedNonUtf8);
        Assert.Equal(3, corpus.Stats.Documents);
    }

    [Fact]
    public async Task GlobsAndSizeLimitsSelectFiles()
    {
        _temp.Write("keep.py", "x = 1\n");
        _temp.Write("pkg/deep/keep2.py", "y = 2\n");
        _temp.Write("notes.txt", "not code\n");
        _temp.Write("pkg/test/test_x.py", "assert True\n");
        _temp.Write("big.py", new string('#', 200));
        _temp.Write("empty.py", "");
        _temp.Write(".hidden/h.py", "z = 3\n");
        var corpus = new FolderCorpus(_temp.Path, new FolderCorpusOptions
        {
            Include = ["**/*.py"], Exclude = ["**/test/**"], MinBytes = 1, MaxBytes = 100,
        });

        var docs = await corpus.ReadAsync().ToListAsync();

        Assert.Equal(["keep.py", "pkg/deep/keep2.py"], docs.Select(d => d.Id));
        Assert.Equal(1, corpus.Stats.SkippedTooLarge);
        Assert.Equal(1, corpus.Stats.SkippedTooSmall);
    }

    [Fact]
    public async Task EmptyCorpusIsAClearError()
    {
        _temp.Write("only.txt", "text");
        var corpus = new FolderCorpus(_temp.Path, new FolderCorpusOptions { Include = ["**/*.py"] });
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => corpus.ReadAsync().ToListAsync());
        Assert.Contains("empty", e.Message);
        Assert.Contains(_temp.Path, e.Message);

        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => new FolderCorpus(_temp.Combine("missing")).ReadAsync().ToListAsync());
    }

    [Theory]
    [InlineData("**/*.py", "a.py", true)]
    [InlineData("**/*.py", "x/y/a.py", true)]
    [InlineData("*.py", "x/a.py", true)]
    [InlineData("src/*.py", "src/x/a.py", false)]
    [InlineData("**/test/**", "test/a.py", true)]
    [InlineData("**/test/**", "lib/test/sub/a.py", true)]
    [InlineData("**/test/**", "lib/testing/a.py", false)]
    [InlineData("site-packages/**", "site-packages/numpy/a.py", true)]
    [InlineData("a?.py", "ab.py", true)]
    [InlineData("a.py", "a_py", false)]
    public void GlobMatchesPaths(string pattern, string path, bool expected) =>
        Assert.Equal(expected, new Glob(pattern).IsMatch(path));

    [Fact]
    public async Task DefaultCorpusIsThePythonStdlibWithoutTestsOrSitePackages()
    {
        var stdlib = DefaultCorpus.LocateStdlib();
        Assert.True(File.Exists(Path.Combine(stdlib, "os.py")), stdlib);
        var corpus = DefaultCorpus.Create(stdlib);
        var files = corpus.MatchingFiles().Select(f => f.RelativePath).ToList();
        Assert.Contains("os.py", files);
        Assert.DoesNotContain(files, f => f.StartsWith("site-packages/") || f.Contains("/test/") || f.StartsWith("test/"));
        var first = await corpus.ReadAsync().Take(3).ToListAsync();
        Assert.Equal(3, first.Count);
    }
}
