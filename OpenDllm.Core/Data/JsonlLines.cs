using System.Runtime.CompilerServices;

namespace OpenDllm.Data;

/// <summary>
/// The non-blank lines of a JSON Lines file with their 1-based line numbers, read as strict UTF-8 (invalid bytes are an
/// error naming <c>file:line</c>), every byte read counted in <see cref="CorpusStats.BytesRead"/>. Shared by the corpora
/// that read <c>.jsonl</c> (<see cref="JsonlCorpus"/>, <see cref="SftCorpus"/>).
/// </summary>
public static class JsonlLines
{
    public static async IAsyncEnumerable<(int Number, string Text)> ReadAsync(string file, CorpusStats stats,
                                                                              [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(file, new System.Text.UTF8Encoding(false, true), detectEncodingFromByteOrderMarks: true);
        int lineNumber = 0;
        while (true)
        {
            string? line;
            try { line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false); }
            catch (System.Text.DecoderFallbackException e)
            {
                throw new InvalidDataException($"{file}:{lineNumber + 1}: not valid UTF-8 ({e.Message})", e);
            }
            if (line is null) yield break;
            lineNumber++;
            stats.BytesRead += System.Text.Encoding.UTF8.GetByteCount(line) + 1;
            if (!string.IsNullOrWhiteSpace(line)) yield return (lineNumber, line);
        }
    }
}
