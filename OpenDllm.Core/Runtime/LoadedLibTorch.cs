namespace OpenDllm.Runtime;

/// <summary>
/// The libtorch this process actually runs on, read after TorchSharp initialised: the mapped <c>libtorch_cpu.so</c>
/// (from <c>/proc/self/maps</c>), its real version and CUDA build (from the version files beside it, else from the
/// library's own <c>at::show_config()</c>), and how it was chosen.
/// </summary>
/// <param name="LibraryPath">Full path of the loaded <c>libtorch_cpu.so</c>; null off Linux or before loading.</param>
/// <param name="Build">Version and CUDA build of that library; null when nothing could tell.</param>
/// <param name="Origin"><c>OPENDLLM_LIBTORCH=…</c> when set, else TorchSharp's own loading (the application's natives).</param>
public sealed record LoadedLibTorch(string? LibraryPath, LibTorchVersion? Build, string Origin)
{
    /// <summary>"2.11.0+cu130", or TorchSharp's own constant with "(TorchSharp's build constant)" when unknown.</summary>
    public string VersionText => Build?.Version ?? $"{TorchSharp.torch.__version__} (TorchSharp's build constant)";

    /// <summary>True when the loaded release is not the one TorchSharp 0.107 was built for (2.10).</summary>
    public bool IsVersionMix => Build?.MajorMinor is { } v && v != LibTorchVersion.Built;

    /// <summary>Reads the facts; call after <see cref="TorchRuntime.EnsureLoaded"/>.</summary>
    public static LoadedLibTorch Inspect()
    {
        var library = LoadedLibraries.FindOne("libtorch_cpu.so");
        LibTorchVersion? build = null;
        if (library is not null)
        {
            build = LibTorchVersion.FromFolder(Path.GetDirectoryName(library)!);
            if (build?.Version is null && NativeConfig.ShowConfig(library) is { } config)
                build = LibTorchVersion.FromShowConfig(config);
        }
        var origin = ExternalLibTorch.Loaded?.Origin ?? "TorchSharp's default loading (the application's libtorch natives)";
        return new LoadedLibTorch(library, build, origin);
    }
}
