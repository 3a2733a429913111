using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>The kind of a notebook cell, as nbformat names it.</summary>
public enum CellKind { Code, Markdown, Raw }

/// <summary>
/// A notebook read from .ipynb (nbformat 4) or .dib: its cells, notebook-level metadata (kept as read so that writing
/// preserves what other tools put there) and the default cell language.
/// </summary>
public sealed class Notebook
{
    /// <summary>The file it was read from, when any (for messages and for resolving relative paths).</summary>
    public string? SourcePath { get; set; }

    /// <summary>The language of code cells that do not name their own: "csharp" unless the notebook says otherwise.</summary>
    public string DefaultLanguage { get; set; } = NotebookLanguages.CSharp;

    /// <summary>Notebook metadata (kernelspec, language_info, polyglot_notebook, …), written back unchanged.</summary>
    public JsonObject Metadata { get; set; } = new();

    /// <summary>nbformat minor version as read (written as at least 5, which carries cell ids).</summary>
    public int NbFormatMinor { get; set; } = 5;

    public List<NotebookCell> Cells { get; } = new();

    /// <summary>A deep copy (outputs included), so a run can fill outputs without touching the notebook it was given.</summary>
    public Notebook Clone()
    {
        var copy = new Notebook
        {
            SourcePath = SourcePath, DefaultLanguage = DefaultLanguage, NbFormatMinor = NbFormatMinor,
            Metadata = (JsonObject)Metadata.DeepClone(),
        };
        copy.Cells.AddRange(Cells.Select(c => c.Clone()));
        return copy;
    }
}

/// <summary>One cell: kind, language (code cells), source, tags, metadata and, for code cells, outputs.</summary>
public sealed class NotebookCell
{
    public NotebookCell(CellKind kind, string language, string source)
    {
        Kind = kind;
        Language = language;
        Source = source;
    }

    /// <summary>The nbformat 4.5 cell id (1–64 of [A-Za-z0-9_-]); readers and writers fill it when missing.</summary>
    public string? Id { get; set; }

    public CellKind Kind { get; set; }

    /// <summary>"csharp", "fsharp", "markdown", or another kernel name (pwsh, javascript, …) the runner does not run.</summary>
    public string Language { get; set; }

    public string Source { get; set; }

    /// <summary>Cell tags (nbformat metadata.tags); "parameters" marks the papermill parameters cell.</summary>
    public List<string> Tags { get; } = new();

    /// <summary>Other cell metadata, written back unchanged (tags are written from <see cref="Tags"/>).</summary>
    public JsonObject Metadata { get; set; } = new();

    public int? ExecutionCount { get; set; }

    public List<CellOutput> Outputs { get; } = new();

    public bool IsCode => Kind == CellKind.Code && Language != NotebookLanguages.Markdown;

    public NotebookCell Clone()
    {
        var copy = new NotebookCell(Kind, Language, Source)
        {
            Id = Id, Metadata = (JsonObject)Metadata.DeepClone(), ExecutionCount = ExecutionCount,
        };
        copy.Tags.AddRange(Tags);
        copy.Outputs.AddRange(Outputs.Select(o => o.Clone()));
        return copy;
    }
}

/// <summary>The nbformat output types.</summary>
public enum OutputType { ExecuteResult, DisplayData, Stream, Error }

/// <summary>
/// One nbformat output. execute_result/display_data carry <see cref="Data"/> (MIME type → content; JSON MIME types hold
/// JSON text), stream carries <see cref="Name"/> (stdout/stderr) and <see cref="Text"/>, error carries ename/evalue/traceback.
/// </summary>
public sealed class CellOutput
{
    public OutputType OutputType { get; set; }
    public Dictionary<string, string> Data { get; } = new(StringComparer.Ordinal);
    public JsonObject Metadata { get; set; } = new();
    public int? ExecutionCount { get; set; }
    public string? Name { get; set; }
    public string? Text { get; set; }
    public string? EName { get; set; }
    public string? EValue { get; set; }
    public List<string> Traceback { get; } = new();

    public static CellOutput Stream(string name, string text) => new() { OutputType = OutputType.Stream, Name = name, Text = text };

    public static CellOutput Error(string ename, string evalue, IEnumerable<string> traceback)
    {
        var output = new CellOutput { OutputType = OutputType.Error, EName = ename, EValue = evalue };
        output.Traceback.AddRange(traceback);
        return output;
    }

    static readonly JsonSerializerOptions WireOptions = new() { PreferredObjectCreationHandling = JsonObjectCreationHandling.Populate };

    /// <summary>This output as JSON, for the notebook worker's pipe (read back by <see cref="FromWire"/>).</summary>
    internal JsonNode ToWire() => JsonSerializer.SerializeToNode(this, WireOptions)!;

    internal static CellOutput FromWire(JsonNode? node) =>
        node.Deserialize<CellOutput>(WireOptions) ?? throw new InvalidDataException("the notebook worker sent an empty output");

    public CellOutput Clone()
    {
        var copy = new CellOutput
        {
            OutputType = OutputType, Metadata = (JsonObject)Metadata.DeepClone(), ExecutionCount = ExecutionCount,
            Name = Name, Text = Text, EName = EName, EValue = EValue,
        };
        foreach (var (mime, content) in Data) copy.Data[mime] = content;
        copy.Traceback.AddRange(Traceback);
        return copy;
    }
}

/// <summary>Kernel/language names as notebooks spell them, normalised to "csharp", "fsharp", "markdown".</summary>
public static class NotebookLanguages
{
    public const string CSharp = "csharp";
    public const string FSharp = "fsharp";
    public const string Markdown = "markdown";

    /// <summary>Maps C#/c#/cs/csharp/.net-csharp → csharp, F#/… → fsharp, md/markdown → markdown; other names lower-cased.</summary>
    public static string Normalize(string name) => name.Trim().ToLowerInvariant() switch
    {
        "c#" or "cs" or "csharp" or ".net-csharp" or "csharp-interactive" => CSharp,
        "f#" or "fs" or "fsharp" or ".net-fsharp" => FSharp,
        "md" or "markdown" => Markdown,
        var other => other,
    };
}
