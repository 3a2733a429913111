using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.IO;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Writes nbformat 4.5 as Jupyter does (keys sorted, indent 1, non-ASCII kept, multiline strings as line arrays, a
/// final newline), so Jupyter, GitHub and VS Code open the result. Cell ids are kept (missing ones are filled); a
/// notebook without a kernelspec (e.g. read from .dib) gets the .NET Interactive C# one.
/// </summary>
public static class IpynbWriter
{
    static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true, IndentSize = 1, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes <paramref name="notebook"/> to <paramref name="path"/> atomically (a temporary file, then a rename).</summary>
    public static void Write(Notebook notebook, string path) => AtomicFile.WriteAllText(path, ToJson(notebook));

    public static string ToJson(Notebook notebook)
    {
        CellIds.Fill(notebook);
        var root = new JsonObject
        {
            ["cells"] = new JsonArray(notebook.Cells.Select(CellJson).ToArray<JsonNode?>()),
            ["metadata"] = NotebookMetadata(notebook),
            ["nbformat"] = 4,
            ["nbformat_minor"] = Math.Max(5, notebook.NbFormatMinor),
        };
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions)) Sorted(root)!.WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    static JsonObject NotebookMetadata(Notebook notebook)
    {
        var metadata = (JsonObject)notebook.Metadata.DeepClone();
        if (metadata["kernelspec"] is null)
        {
            var fsharp = notebook.DefaultLanguage == NotebookLanguages.FSharp;
            metadata["kernelspec"] = new JsonObject
            {
                ["display_name"] = fsharp ? ".NET (F#)" : ".NET (C#)",
                ["language"] = fsharp ? "F#" : "C#",
                ["name"] = fsharp ? ".net-fsharp" : ".net-csharp",
            };
        }
        metadata["language_info"] ??= new JsonObject { ["name"] = "polyglot-notebook" };
        metadata["polyglot_notebook"] ??= new JsonObject
        {
            ["kernelInfo"] = new JsonObject
            {
                ["defaultKernelName"] = notebook.DefaultLanguage,
                ["items"] = new JsonArray(
                    new JsonObject { ["aliases"] = new JsonArray(), ["languageName"] = "C#", ["name"] = "csharp" },
                    new JsonObject { ["aliases"] = new JsonArray(), ["languageName"] = "F#", ["name"] = "fsharp" }),
            },
        };
        return metadata;
    }

    static JsonObject CellJson(NotebookCell cell)
    {
        var metadata = (JsonObject)cell.Metadata.DeepClone();
        if (cell.Tags.Count > 0) metadata["tags"] = new JsonArray(cell.Tags.Select(t => (JsonNode?)t).ToArray());
        var json = new JsonObject
        {
            ["cell_type"] = cell.Kind switch { CellKind.Code => "code", CellKind.Markdown => "markdown", _ => "raw" },
            ["id"] = cell.Id,
            ["metadata"] = metadata,
            ["source"] = Lines(cell.Source),
        };
        if (cell.Kind != CellKind.Code) return json;
        if (metadata["dotnet_interactive"] is null && metadata["polyglot_notebook"] is null)
        {
            metadata["dotnet_interactive"] = new JsonObject { ["language"] = cell.Language };
            metadata["polyglot_notebook"] = new JsonObject { ["kernelName"] = cell.Language };
        }
        json["execution_count"] = cell.ExecutionCount;
        json["outputs"] = new JsonArray(cell.Outputs.Select(OutputJson).ToArray<JsonNode?>());
        return json;
    }

    internal static JsonObject OutputJson(CellOutput output)
    {
        switch (output.OutputType)
        {
            case OutputType.Stream:
                return new JsonObject { ["output_type"] = "stream", ["name"] = output.Name ?? "stdout", ["text"] = Lines(output.Text ?? "") };
            case OutputType.Error:
                return new JsonObject
                {
                    ["output_type"] = "error", ["ename"] = output.EName ?? "Error", ["evalue"] = output.EValue ?? "",
                    ["traceback"] = new JsonArray(output.Traceback.Select(t => (JsonNode?)t).ToArray()),
                };
        }
        var data = new JsonObject();
        foreach (var (mime, content) in output.Data)
            data[mime] = IpynbReader.IsJsonMime(mime) ? ParseJsonOrText(content) : Lines(content);
        var json = new JsonObject
        {
            ["output_type"] = output.OutputType == OutputType.ExecuteResult ? "execute_result" : "display_data",
            ["data"] = data,
            ["metadata"] = output.Metadata.DeepClone(),
        };
        if (output.OutputType == OutputType.ExecuteResult) json["execution_count"] = output.ExecutionCount;
        return json;
    }

    static JsonNode? ParseJsonOrText(string content)
    {
        try { return JsonNode.Parse(content); }
        catch (JsonException) { return content; }
    }

    /// <summary>Splits text into lines that keep their "\n" (the last may lack one), as Jupyter stores source.</summary>
    internal static JsonArray Lines(string text)
    {
        var lines = new JsonArray();
        int start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            var next = end < 0 ? text.Length : end + 1;
            lines.Add(text[start..next]);
            start = next;
        }
        return lines;
    }

    /// <summary>A copy with every object's keys in ordinal order (Python's sort_keys).</summary>
    static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Sorted).ToArray()),
        _ => node?.DeepClone(),
    };
}
