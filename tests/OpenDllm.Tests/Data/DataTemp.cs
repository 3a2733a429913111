using OpenDllm.Data;

namespace OpenDllm.Tests.Data;

/// <summary>A fresh temporary folder for data tests, deleted on dispose.</summary>
internal sealed class DataTemp : IDisposable
{
    public DataTemp() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "opendllm-data-" + Guid.NewGuid().ToString("N"));

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public string Write(string relative, string text) => WriteBytes(relative, System.Text.Encoding.UTF8.GetBytes(text));

    public string WriteBytes(string relative, byte[] bytes)
    {
        var full = Combine(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, bytes);
        return full;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>An in-memory corpus; optionally throws after yielding <c>failAfter</c> documents.</summary>
internal sealed class ListCorpus(IReadOnlyList<Document> documents, int? failAfter = null) : ICorpus
{
    public string Description => $"list of {documents.Count} documents";

    public CorpusStats Stats { get; } = new();

    public long? TotalBytes => documents.Sum(d => (long)d.Text.Length);

    public async IAsyncEnumerable<Document> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        await Task.Yield();
        foreach (var doc in documents)
        {
            if (Stats.Documents == failAfter) throw new IOException("reader failed midway (test)");
            Stats.Documents++;
            Stats.BytesRead += doc.Text.Length;
            yield return doc;
        }
    }

    /// <summary><paramref name="count"/> documents "doc{i}" whose lengths vary with i.</summary>
    public static ListCorpus Numbered(int count, int? failAfter = null) =>
        new(Enumerable.Range(0, count).Select(i => new Document($"doc{i}", $"document {i} " + new string((char)('a' + i % 26), i % 37))).ToList(), failAfter);
}

internal static class AsyncList
{
    public static async Task<List<T>> ToListAsync<T>(this IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source) list.Add(item);
        return list;
    }
}
