using System.Runtime.CompilerServices;
using System.Text.Json;

namespace OpenDllm.Data;

/// <summary>
/// JSON Lines: one JSON object per line, the document text in field <see cref="Field"/>. <see cref="Path"/> is one
/// <c>.jsonl</c> file or a folder of them (read in ordinal path order). Blank lines are ignored; a null or empty
/// value is skipped and counted; a line without the field, a non-string value or invalid JSON is an error naming
/// the file, the line and the field. Document id: <c>file:line</c>, or the value of <see cref="IdField"/> when set.
/// </summary>
public sealed class JsonlCorpus : ICorpus
{
    /// <summary>A JSONL corpus at <paramref name="path"/> reading field <paramref name="field"/>.</summary>
    public JsonlCorpus(string path, string field = "text", string? idField = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(field);
        Path = System.IO.Path.GetFullPath(path);
        Field = field;
        IdField = idField;
    }

    /// <summary>The file or folder (absolute).</summary>
    public string Path { get; }

    /// <summary>The text field.</summary>
    public string Field { get; }

    /// <summary>Optional field holding the document id.</summary>
    public string? IdField { get; }

    /// <inheritdoc/>
    public CorpusStats Stats { get; } = new();

    /// <inheritdoc/>
    public string Description => $"jsonl {Path} (field \"{Field}\")";

    /// <inheritdoc/>
    public CorpusIdentity Identity() => new()
    {
        Kind = "jsonl", Path = Path, Field = Field,
        Files = FileListFingerprint.Of(CorpusFiles.Resolve(Path, ".jsonl", "JSONL").Select(f => (CorpusFiles.IdPrefix(Path, f), new FileInfo(f)))),
    };

    /// <inheritdoc/>
    public long? TotalBytes => CorpusFiles.Resolve(Path, ".jsonl", "JSONL").Sum(f => new FileInfo(f).Length);

    /// <inheritdoc/>
    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        foreach (var file in CorpusFiles.Resolve(Path, ".jsonl", "JSONL"))
        {
            var prefix = CorpusFiles.IdPrefix(Path, file);
            await foreach (var (lineNumber, line) in JsonlLines.ReadAsync(file, Stats, cancellationToken).ConfigureAwait(false))
            {
                var doc = Parse(file, lineNumber, line, prefix);
                if (doc is null) continue;
                Stats.Documents++;
                yield return doc;
            }
        }
        if (Stats.Documents == 0) throw Stats.Empty(Description);
    }

    Document? Parse(string file, int lineNumber, string line, string prefix)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new InvalidDataException($"{file}:{lineNumber}: not valid JSON ({e.Message})", e); }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{file}:{lineNumber}: expected a JSON object with field \"{Field}\", got {root.ValueKind}");
            if (!root.TryGetProperty(Field, out var value))
                throw new InvalidDataException(
                    $"{file}:{lineNumber}: no field \"{Field}\" (fields: {string.Join(", ", root.EnumerateObject().Select(p => p.Name))})");
            if (value.ValueKind == JsonValueKind.Null || value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0)
            {
                Stats.SkippedEmpty++;
                return null;
            }
            if (value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{file}:{lineNumber}: field \"{Field}\" is {value.ValueKind}, expected a string");
            var id = $"{prefix}:{lineNumber}";
            if (IdField is not null && root.TryGetProperty(IdField, out var idValue) && idValue.ValueKind != JsonValueKind.Null)
                id = idValue.ValueKind == JsonValueKind.String ? idValue.GetString()! : idValue.GetRawText();
            return new Document(id, value.GetString()!);
        }
    }
}
