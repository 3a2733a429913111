using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Documents;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Converts between the package's <see cref="InteractiveDocument"/> (what <c>Microsoft.DotNet.Interactive.Documents</c>
/// reads and writes) and the runner's <see cref="Notebook"/>: cells, kernel names, ids, execution counts, metadata
/// (tags become <see cref="NotebookCell.Tags"/>) and outputs. MIME data is text in <see cref="CellOutput.Data"/>; JSON
/// MIME types (application/json, */*+json) hold their JSON as compact text.
/// </summary>
internal static class NotebookDocuments
{
    public static Notebook ToNotebook(InteractiveDocument document, string sourceName, JsonObject metadata, string defaultLanguage)
    {
        var notebook = new Notebook { SourcePath = sourceName, DefaultLanguage = defaultLanguage, Metadata = (JsonObject)metadata.DeepClone() };
        foreach (var element in document.Elements)
        {
            var language = string.IsNullOrEmpty(element.KernelName) ? defaultLanguage : NotebookLanguages.Normalize(element.KernelName);
            var kind = language == NotebookLanguages.Markdown ? CellKind.Markdown : CellKind.Code;
            var cell = new NotebookCell(kind, language, element.Contents ?? "")
            {
                Id = string.IsNullOrEmpty(element.Id) ? null : element.Id,
                ExecutionCount = kind == CellKind.Code && element.ExecutionOrder > 0 ? element.ExecutionOrder : null,
                Metadata = ToJsonObject(element.Metadata),
            };
            if (cell.Metadata["tags"] is JsonArray tags)
            {
                cell.Tags.AddRange(tags.Select(t => t is JsonValue v && v.TryGetValue<string>(out var s)
                    ? s : throw new InvalidDataException($"{sourceName}: metadata.tags must hold strings")));
                cell.Metadata.Remove("tags");
            }
            if (kind == CellKind.Code) cell.Outputs.AddRange(element.Outputs.Select(ToOutput));
            notebook.Cells.Add(cell);
        }
        return notebook;
    }

    public static InteractiveDocument ToDocument(Notebook notebook, JsonObject metadata)
    {
        var document = new InteractiveDocument();
        foreach (var (key, value) in metadata) document.Metadata[key] = Plain(value);
        foreach (var cell in notebook.Cells)
        {
            var element = new InteractiveDocumentElement(cell.Source, cell.Kind == CellKind.Markdown ? NotebookLanguages.Markdown : cell.Language,
                                                         cell.Kind == CellKind.Code ? cell.Outputs.Select(ToElement) : [])
            {
                Id = cell.Id, ExecutionOrder = cell.ExecutionCount ?? 0, Metadata = ToDictionary(CellMetadata(cell)),
            };
            document.Add(element);
        }
        return document;
    }

    /// <summary>The cell's metadata as written: its own, with <see cref="NotebookCell.Tags"/> as <c>tags</c>.</summary>
    public static JsonObject CellMetadata(NotebookCell cell)
    {
        var metadata = (JsonObject)cell.Metadata.DeepClone();
        if (cell.Tags.Count > 0) metadata["tags"] = new JsonArray(cell.Tags.Select(t => (JsonNode?)t).ToArray());
        return metadata;
    }

    static CellOutput ToOutput(InteractiveDocumentOutputElement element)
    {
        switch (element)
        {
            case TextElement text: return CellOutput.Stream(text.Name, text.Text);
            case ErrorElement error: return CellOutput.Error(error.ErrorName, error.ErrorValue, error.StackTrace ?? []);
            case ReturnValueElement result:
                return Filled(new CellOutput { OutputType = OutputType.ExecuteResult, ExecutionCount = result.ExecutionOrder }, result.Data, result.Metadata);
            case DisplayElement display:
                return Filled(new CellOutput { OutputType = OutputType.DisplayData }, display.Data, display.Metadata);
            default: throw new InvalidDataException($"unknown output {element.GetType().Name}");
        }
    }

    static CellOutput Filled(CellOutput output, IDictionary<string, object>? data, IDictionary<string, object>? metadata)
    {
        foreach (var (mime, content) in data ?? new Dictionary<string, object>())
            output.Data[mime] = NbformatShim.IsJsonMime(mime) ? JsonSerializer.Serialize(content)
                : content switch
                {
                    string s => s,
                    IEnumerable<object> lines => string.Concat(lines),
                    _ => JsonSerializer.Serialize(content),
                };
        output.Metadata = ToJsonObject(metadata);
        return output;
    }

    static InteractiveDocumentOutputElement ToElement(CellOutput output)
    {
        switch (output.OutputType)
        {
            case OutputType.Stream: return new TextElement(output.Text ?? "", output.Name ?? "stdout");
            case OutputType.Error: return new ErrorElement(output.EValue ?? "", output.EName ?? "Error", output.Traceback.ToArray());
        }
        // Every MIME type is given as text lines; NbformatShim.Repair turns JSON MIME types back into JSON values.
        var data = output.Data.ToDictionary(p => p.Key, p => (object)NbformatShim.Lines(p.Value));
        if (output.OutputType == OutputType.DisplayData)
        {
            var display = new DisplayElement(data);
            foreach (var (key, value) in ToDictionary(output.Metadata)) display.Metadata[key] = value;
            return display;
        }
        var result = new ReturnValueElement { ExecutionOrder = output.ExecutionCount ?? 0 };
        foreach (var (mime, content) in data) result.Data[mime] = content;
        foreach (var (key, value) in ToDictionary(output.Metadata)) result.Metadata[key] = value;
        return result;
    }

    static JsonObject ToJsonObject(IDictionary<string, object>? values) =>
        values is null ? new JsonObject() : JsonSerializer.SerializeToNode(values) as JsonObject ?? new JsonObject();

    static Dictionary<string, object> ToDictionary(JsonObject values) => values.ToDictionary(p => p.Key, p => Plain(p.Value));

    /// <summary>
    /// A JSON value in the shapes the package reads and writes: objects as Dictionary&lt;string, object&gt; (its writer
    /// casts the .NET Interactive metadata entries to that), arrays as object[], numbers as long or double.
    /// </summary>
    static object Plain(JsonNode? node) => node switch
    {
        null => null!,
        JsonObject o => ToDictionary(o),
        JsonArray a => a.Select(Plain).ToArray(),
        _ => node.GetValueKind() switch
        {
            JsonValueKind.String => node.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when long.TryParse(node.ToJsonString(), out var integer) => integer,
            JsonValueKind.Number => double.Parse(node.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture),
            _ => null!,
        },
    };
}
