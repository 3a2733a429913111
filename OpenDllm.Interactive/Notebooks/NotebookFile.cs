using System.Text.Json;
using Microsoft.DotNet.Interactive.Documents;
using OpenDllm.IO;
using Jupyter = Microsoft.DotNet.Interactive.Documents.Jupyter.Notebook;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Reads and writes notebooks: .ipynb (nbformat 4) and Polyglot .dib, through <c>Microsoft.DotNet.Interactive.Documents</c>
/// (the .NET Interactive kernel's own reader and writer), converted to and from <see cref="Notebook"/>. Where that package
/// drops or breaks something, <see cref="NbformatShim"/> puts it back (raw cells, JSON MIME outputs, cell ids, the
/// kernelspec of a notebook read from .dib, clear errors); each repair is listed there with the test that shows the loss.
/// Written .ipynb is nbformat 4.5 laid out as Jupyter writes it (keys sorted, indent 1, non-ASCII kept, a final newline).
/// </summary>
public static class NotebookFile
{
    /// <summary>Reads an .ipynb or .dib file; throws FileNotFoundException, or InvalidDataException naming the file.</summary>
    public static Notebook Load(string path)
    {
        if (Directory.Exists(path)) throw new FileNotFoundException($"{path}: is a folder, not a notebook (.ipynb or .dib)", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: notebook not found", path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".ipynb" => ParseIpynb(File.ReadAllText(path), path),
            ".dib" => ParseDib(File.ReadAllText(path), path),
            var ext => throw new InvalidDataException($"{path}: unknown notebook extension \"{ext}\" (expected .ipynb or .dib)"),
        };
    }

    /// <param name="json">The .ipynb text.</param>
    /// <param name="sourceName">Used in messages and kept as <see cref="Notebook.SourcePath"/>.</param>
    public static Notebook ParseIpynb(string json, string sourceName)
    {
        var structure = NbformatShim.CheckIpynb(json, sourceName);
        var document = Package(sourceName, () => Jupyter.Parse(json));
        if (document.Elements.Count != structure.Cells.Count)
            throw new InvalidDataException($"{sourceName}: {structure.Cells.Count} cells in the file, {document.Elements.Count} read");
        var notebook = NotebookDocuments.ToNotebook(document, sourceName, structure.Metadata, NbformatShim.DefaultLanguage(structure.Metadata));
        notebook.NbFormatMinor = structure.NbFormatMinor;
        NbformatShim.RestoreRawCells(notebook, structure.Cells);
        CellIds.Fill(notebook);
        return notebook;
    }

    /// <param name="text">The .dib text.</param>
    /// <param name="sourceName">Used in messages and kept as <see cref="Notebook.SourcePath"/>.</param>
    public static Notebook ParseDib(string text, string sourceName)
    {
        var document = Package(sourceName, () => NbformatShim.ParseDib(text, sourceName));
        var kernelInfo = document.Metadata.TryGetValue("kernelInfo", out var info) ? info : null;
        var metadata = new System.Text.Json.Nodes.JsonObject();
        if (kernelInfo is not null)
            metadata["polyglot_notebook"] = new System.Text.Json.Nodes.JsonObject { ["kernelInfo"] = JsonSerializer.SerializeToNode(kernelInfo) };
        var defaultName = document.GetDefaultKernelName();
        var notebook = NotebookDocuments.ToNotebook(document, sourceName, metadata,
                                                    string.IsNullOrEmpty(defaultName) ? NotebookLanguages.CSharp : NotebookLanguages.Normalize(defaultName));
        notebook.Cells.RemoveAll(c => string.IsNullOrWhiteSpace(c.Source));
        foreach (var cell in notebook.Cells)
            if (cell.IsCode && cell.Source.Split('\n')[0].Trim() == "// parameters") cell.Tags.Add(NotebookParameters.Tag);
        CellIds.Fill(notebook);
        return notebook;
    }

    /// <summary>Writes <paramref name="notebook"/> as .ipynb to <paramref name="path"/> atomically (a temporary file, then a rename).</summary>
    public static void Write(Notebook notebook, string path) => AtomicFile.WriteAllText(path, ToIpynb(notebook));

    /// <summary>The .ipynb text of <paramref name="notebook"/> (missing cell ids are filled in the notebook first).</summary>
    public static string ToIpynb(Notebook notebook)
    {
        CellIds.Fill(notebook);
        var written = Jupyter.ToJupyterJson(NotebookDocuments.ToDocument(notebook, NbformatShim.IpynbMetadata(notebook)));
        return NbformatShim.Repair(written, notebook);
    }

    /// <summary>NOTEBOOK with its extension replaced by <c>.out.ipynb</c> (a run of a .dib writes .ipynb).</summary>
    public static string DefaultOutputPath(string notebookPath) => Path.ChangeExtension(notebookPath, ".out.ipynb");

    /// <summary>Runs a package call, turning its exceptions into one InvalidDataException that names the file.</summary>
    static InteractiveDocument Package(string sourceName, Func<InteractiveDocument> read)
    {
        try { return read(); }
        catch (InvalidDataException) { throw; }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException or InvalidCastException)
        {
            throw new InvalidDataException($"{sourceName}: {e.Message.Split(" Path:")[0].Split(" LineNumber:")[0]}", e);
        }
    }
}
