using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.DotNet.Interactive;
using OpenDllm.Interactive;
using OpenDllm.Runtime;

namespace OpenDllm.Tests.Notebooks;

/// <summary>
/// The packed OpenDllm.Interactive package carries a real <see cref="IKernelExtension"/> where the kernel's loader looks
/// (<c>interactive-extensions/dotnet/</c>), and loading that assembly into a real kernel registers the formatters, the
/// usings and <c>#!opendllm-doctor</c>.
/// </summary>
[Collection("Console")]
public sealed class KernelExtensionTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-kext-").FullName;

    /// <summary>The packed copy registered its formatters process-wide; the referenced copy takes them back, so tests after
    /// this one render with the OpenDllm.Interactive they reference (and its <c>Renderers</c> settings).</summary>
    public void Dispose()
    {
        OpenDllm.Interactive.NotebookFormatters.Register();
        Directory.Delete(_dir, true);
    }

    /// <summary>Release or Debug: the configuration these tests (and so OpenDllm.Interactive) were built in.</summary>
    static string Configuration =>
        AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    [Fact]
    public async Task PackedExtensionLoadsIntoARealKernelAndRegistersFormattersUsingsAndMagics()
    {
        var project = Path.Combine(TestPaths.RepoRoot, "OpenDllm.Interactive", "OpenDllm.Interactive.csproj");
        var pack = Process.Start(new ProcessStartInfo("dotnet", ["pack", project, "-c", Configuration, "--no-build", "-o", _dir,
                                                                 "-p:Version=0.0.0-kernel-test", "-nologo", "-v", "q"])
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var packOut = pack.StandardOutput.ReadToEndAsync();
        var packErr = await pack.StandardError.ReadToEndAsync();
        await pack.WaitForExitAsync();
        Assert.True(pack.ExitCode == 0, await packOut + packErr);

        using var package = ZipFile.OpenRead(Path.Combine(_dir, "OpenDllm.Interactive.0.0.0-kernel-test.nupkg"));
        var entry = package.GetEntry("interactive-extensions/dotnet/OpenDllm.Interactive.dll");
        Assert.NotNull(entry);
        Assert.DoesNotContain(package.Entries, e => e.FullName.EndsWith("extension.dib", StringComparison.Ordinal));
        var extracted = Path.Combine(_dir, "OpenDllm.Interactive.dll");
        entry.ExtractToFile(extracted);

        // As the kernel's loader does: load the assembly, instantiate its IKernelExtension types, call OnLoadAsync.
        // Its own load context keeps it apart from the OpenDllm.Interactive these tests reference; the rest is shared.
        var context = new ExtensionContext(extracted);
        var assembly = context.LoadFromAssemblyPath(extracted);
        var extensions = assembly.GetExportedTypes().Where(t => typeof(IKernelExtension).IsAssignableFrom(t) && !t.IsAbstract).ToList();
        Assert.Single(extensions);
        using var host = await RealKernelHost.StartAsync((IKernelExtension)Activator.CreateInstance(extensions[0])!);

        // usings: TorchSharp's static torch and OpenDllm's namespaces need no using in a cell.
        var (tensor, failure) = await host.RunAsync("ones(2, 3)");
        Assert.Null(failure);
        var bundle = tensor.Single(o => o.Kind == "execute_result").Data;
        Assert.Contains("class=\"odl-tensor\"", bundle["text/html"]);
        Assert.True(bundle.ContainsKey("text/plain"), string.Join(", ", bundle.Keys));

        var (schedule, scheduleFailure) = await host.RunAsync("MaskSchedules.Create(\"cosine\")");
        Assert.Null(scheduleFailure);
        Assert.Contains("cosine", schedule.Single(o => o.Kind == "execute_result").Data["text/html"]);

        var (doctor, doctorFailure) = await host.RunAsync("#!opendllm-doctor");
        Assert.Null(doctorFailure);
        var report = string.Join("\n", doctor.SelectMany(o => o.Data.Values));
        Assert.Contains("libtorch", report);
        Assert.Contains("threads:", report);
    }

    sealed class ExtensionContext(string path) : AssemblyLoadContext("opendllm-extension-test", isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name) =>
            name.Name == Path.GetFileNameWithoutExtension(path) ? LoadFromAssemblyPath(path) : null;   // others: the default context
    }

    [Fact]
    public void OverridesParseFromSemicolonsOrLinesAndRejectAPartWithoutEquals()
    {
        Assert.Empty(KernelExtension.ParseOverrides(null));
        Assert.Empty(KernelExtension.ParseOverrides("  "));
        var parsed = KernelExtension.ParseOverrides("steps=40; length = 16\nroot=runs/x=y");
        Assert.Equal(["steps", "length", "root"], parsed.Keys);
        Assert.Equal("runs/x=y", parsed["root"]);
        var e = Assert.Throws<ArgumentException>(() => KernelExtension.ParseOverrides("steps=40;oops"));
        Assert.Contains("\"oops\"", e.Message);
    }

    [Fact]
    public void FSharpCoreRedirectAnswersOnlyTheSameMajorVersion()
    {
        var host = AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName("FSharp.Core"));
        var major = host.GetName().Version!.Major;
        Assert.Same(host, KernelExtension.UseHostFSharpCore(AssemblyLoadContext.Default, new AssemblyName($"FSharp.Core, Version={major}.9.0.0")));
        Assert.Null(KernelExtension.UseHostFSharpCore(AssemblyLoadContext.Default, new AssemblyName($"FSharp.Core, Version={major + 1}.0.0.0")));
        Assert.Null(KernelExtension.UseHostFSharpCore(AssemblyLoadContext.Default, new AssemblyName("Plotly.NET, Version=6.0.0.0")));
    }
}
