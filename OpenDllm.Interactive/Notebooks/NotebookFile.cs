namespace OpenDllm.Interactive.Notebooks;

/// <summary>Opens .ipynb and .dib notebooks by extension; names the default output of a run.</summary>
public static class NotebookFile
{
    /// <summary>Reads an .ipynb or .dib file; throws FileNotFoundException, or InvalidDataException naming the file.</summary>
    public static Notebook Load(string path)
    {
        if (Directory.Exists(path)) throw new FileNotFoundException($"{path}: is a folder, not a notebook (.ipynb or .dib)", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: notebook not found", path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".ipynb" => IpynbReader.Read(path),
            ".dib" => DibReader.Read(path),
            var ext => throw new InvalidDataException($"{path}: unknown notebook extension \"{ext}\" (expected .ipynb or .dib)"),
        };
    }

    /// <summary>NOTEBOOK with its extension replaced by <c>.out.ipynb</c> (a run of a .dib writes .ipynb).</summary>
    public static string DefaultOutputPath(string notebookPath) => Path.ChangeExtension(notebookPath, ".out.ipynb");
}
