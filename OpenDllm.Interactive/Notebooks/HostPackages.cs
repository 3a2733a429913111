using System.Reflection;
using System.Text.Json;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// The NuGet packages and projects the host process carries, read from its deps.json, with the paths of their runtime
/// assemblies (looked up in the trusted platform assemblies, i.e. what the host can load). A notebook's
/// <c>#r "nuget: X"</c> for a carried package becomes references to these assemblies instead of a download.
/// </summary>
public sealed class HostPackages
{
    sealed record Library(string Id, string Version, string Type, string[] AssemblyNames, string[] Dependencies);

    readonly Dictionary<string, Library> _libraries = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, string> _assemblyPaths = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The packages of the current process (its deps.json files, which the host lists with ';', and trusted platform assemblies).</summary>
    public static HostPackages Current { get; } = new(
        (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries),
        (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));

    public HostPackages(IEnumerable<string> depsFiles, IEnumerable<string> trustedAssemblies)
    {
        foreach (var path in trustedAssemblies) _assemblyPaths.TryAdd(Path.GetFileNameWithoutExtension(path), path);
        foreach (var deps in depsFiles.Where(File.Exists)) ReadDeps(deps);
    }

    void ReadDeps(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        if (!root.TryGetProperty("targets", out var targets) || !root.TryGetProperty("libraries", out var libraries)) return;
        foreach (var target in targets.EnumerateObject())
        {
            foreach (var lib in target.Value.EnumerateObject())
            {
                var slash = lib.Name.IndexOf('/');
                if (slash < 0) continue;
                var type = libraries.TryGetProperty(lib.Name, out var info) && info.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
                var assemblies = lib.Value.TryGetProperty("runtime", out var runtime)
                    ? runtime.EnumerateObject().Select(r => Path.GetFileNameWithoutExtension(r.Name)).ToArray() : [];
                var dependencies = lib.Value.TryGetProperty("dependencies", out var deps)
                    ? deps.EnumerateObject().Select(d => d.Name).ToArray() : [];
                _libraries.TryAdd(lib.Name[..slash], new Library(lib.Name[..slash], lib.Name[(slash + 1)..], type, assemblies, dependencies));
            }
        }
    }

    /// <summary>Whether the host carries package (or project) <paramref name="id"/>; TorchSharp-* and libtorch-* mean TorchSharp.</summary>
    public bool Carries(string id, out string carriedId, out string? version)
    {
        var canonical = carriedId = Canonical(id);
        if (_libraries.TryGetValue(canonical, out var lib)) { carriedId = lib.Id; version = lib.Version; return true; }
        var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => string.Equals(a.GetName().Name, canonical, StringComparison.OrdinalIgnoreCase));
        version = loaded?.GetName().Version?.ToString();
        return loaded is not null;
    }

    static string Canonical(string id) =>
        id.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || id.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase)
            ? "TorchSharp" : id;

    /// <summary>Paths of the runtime assemblies of <paramref name="ids"/> and everything they depend on.</summary>
    public IReadOnlyList<string> AssemblyClosure(IEnumerable<string> ids)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var paths = new List<string>();
        var stack = new Stack<string>(ids.Select(Canonical));
        while (stack.Count > 0)
        {
            var id = stack.Pop();
            if (!seen.Add(id)) continue;
            if (!_libraries.TryGetValue(id, out var lib))
            {
                if (AssemblyPath(id) is { } single) paths.Add(single);
                continue;
            }
            foreach (var name in lib.AssemblyNames)
                if (AssemblyPath(name) is { } path) paths.Add(path);
            foreach (var dependency in lib.Dependencies) stack.Push(dependency);
        }
        return paths.Distinct().ToList();
    }

    string? AssemblyPath(string simpleName)
    {
        if (_assemblyPaths.TryGetValue(simpleName, out var path)) return path;
        var loaded = AppDomain.CurrentDomain.GetAssemblies()
            .FirstOrDefault(a => !a.IsDynamic && a.GetName().Name == simpleName && a.Location.Length > 0);
        if (loaded is not null) return loaded.Location;
        var local = Path.Combine(AppContext.BaseDirectory, simpleName + ".dll");
        return File.Exists(local) ? local : null;
    }

    /// <summary>A short list for messages: the host's projects and the packages they reference directly.</summary>
    public string Describe()
    {
        var projects = _libraries.Values.Where(l => l.Type == "project").ToList();
        var direct = projects.SelectMany(p => p.Dependencies).Concat(projects.Select(p => p.Id))
            .Where(id => _libraries.ContainsKey(id)).Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(id => _libraries[id]).Where(l => l.Type is "project" or "package")
            .OrderBy(l => l.Type == "project" ? 0 : 1).ThenBy(l => l.Id, StringComparer.OrdinalIgnoreCase).ToList();
        if (direct.Count == 0) return string.Join(", ", AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name).Order());
        var rest = _libraries.Count - direct.Count;
        return string.Join(", ", direct.Select(l => l.Type == "project" ? l.Id : $"{l.Id} {l.Version}"))
               + (rest > 0 ? $" (and {rest} of their dependencies)" : "");
    }

    /// <summary>The assemblies already loaded in the process that a script can reference (non-dynamic, on disk).</summary>
    public static IEnumerable<Assembly> LoadedAssemblies() =>
        AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.Location.Length > 0);
}
