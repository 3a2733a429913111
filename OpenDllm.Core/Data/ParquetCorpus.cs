using System.Runtime.CompilerServices;
using Parquet;
using Parquet.Schema;

namespace OpenDllm.Data;

/// <summary>
/// Parquet: one string column holds the document text. <see cref="Path"/> is one <c>.parquet</c> file or a folder of
/// shards (the layout of Hugging Face datasets such as FineCode, e.g. <c>data/train-00000-of-00042.parquet</c>),
/// read in ordinal path order, one row group of one column at a time, so memory stays at one row group's text.
/// Null and empty cells are skipped and counted. Document id: <c>file:row</c> (row index within the file).
/// </summary>
public sealed class ParquetCorpus : ICorpus
{
    /// <summary>Column names tried, in order, when no column is given.</summary>
    public static readonly IReadOnlyList<string> DefaultColumns = ["content", "text"];

    /// <summary>A Parquet corpus at <paramref name="path"/> reading <paramref name="column"/> (null: the first of
    /// <see cref="DefaultColumns"/> the file has).</summary>
    public ParquetCorpus(string path, string? column = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        Column = string.IsNullOrWhiteSpace(column) ? null : column;
    }

    /// <summary>The file or folder (absolute).</summary>
    public string Path { get; }

    /// <summary>The text column, or null for the first of <see cref="DefaultColumns"/> present.</summary>
    public string? Column { get; }

    /// <inheritdoc/>
    public CorpusStats Stats { get; } = new();

    /// <inheritdoc/>
    public string Description => $"parquet {Path} (column {(Column is null ? string.Join(" or ", DefaultColumns.Select(c => $"\"{c}\"")) : $"\"{Column}\"")})";

    /// <inheritdoc/>
    public long? TotalBytes => CorpusFiles.Resolve(Path, ".parquet", "Parquet").Sum(f => new FileInfo(f).Length);

    /// <inheritdoc/>
    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        foreach (var file in CorpusFiles.Resolve(Path, ".parquet", "Parquet"))
        {
            var prefix = CorpusFiles.IdPrefix(Path, file);
            long fileBytes = new FileInfo(file).Length;
            await using var stream = File.OpenRead(file);
            ParquetReader reader;
            try { reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException)
            {
                throw new InvalidDataException($"{file}: not a readable Parquet file ({e.Message})", e);
            }
            await using var _ = reader;
            var field = FindColumn(file, reader.Schema);
            long row = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                var texts = await ReadRowGroupAsync(file, reader, g, field, cancellationToken).ConfigureAwait(false);
                Stats.BytesRead += fileBytes / reader.RowGroupCount + (g == reader.RowGroupCount - 1 ? fileBytes % reader.RowGroupCount : 0);
                foreach (var text in texts)
                {
                    long index = row++;
                    if (string.IsNullOrEmpty(text)) { Stats.SkippedEmpty++; continue; }
                    Stats.Documents++;
                    yield return new Document($"{prefix}:{index}", text);
                }
            }
            if (reader.RowGroupCount == 0) Stats.BytesRead += fileBytes;
        }
        if (Stats.Documents == 0) throw Stats.Empty(Description);
    }

    static async Task<string?[]> ReadRowGroupAsync(string file, ParquetReader reader, int group, DataField field, CancellationToken ct)
    {
        using var rowGroup = reader.OpenRowGroupReader(group);
        var texts = new string?[rowGroup.RowCount];
        try
        {
            await rowGroup.ReadAsync(field, texts.AsMemory()!, null, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{file}: row group {group}: cannot read column \"{field.Name}\" ({e.Message})", e);
        }
        return texts;
    }

    DataField FindColumn(string file, ParquetSchema schema)
    {
        var fields = schema.DataFields;
        var wanted = Column is null ? DefaultColumns : [Column];
        var field = wanted.Select(w => fields.FirstOrDefault(f => f.Name == w)).FirstOrDefault(f => f is not null);
        var columns = string.Join(", ", fields.Select(f => $"{f.Name} ({Type(f)})"));
        if (field is null)
            throw new InvalidDataException(
                $"{file}: no column {string.Join(" or ", wanted.Select(w => $"\"{w}\""))}; the file's columns are: {columns}");
        if (field.IsArray || Type(field) != "string")
            throw new InvalidDataException($"{file}: column \"{field.Name}\" is {Type(field)}{(field.IsArray ? " (a list)" : "")}, expected strings; columns: {columns}");
        return field;
    }

    static string Type(DataField f) =>
        f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>) ? "string" : f.ClrType.Name;
}
