// Makes TorchSharp's native library loadable on systems whose libstdc++ is older than the one it
// was linked against (PLATFORM.md §1: TorchSharp 0.107.0 asks for GLIBCXX_3.4.32, Debian 12 stops at 3.4.30).
//
// The file is compiled twice: by MSBuild's RoslynCodeTaskFactory as the build task
// `RelaxGlibcxxRequirement` (Directory.Build.targets), and into OpenDllm.Core (with OPENDLLM_LIBRARY
// defined) so the runtime check and the tests use the very same ELF code.
//
// How it works: an ELF shared object lists, in its `.gnu.version_r` section, the symbol versions it
// needs from each library (Elf64_Verneed → Elf64_Vernaux). The loader refuses to load it when a
// listed version is missing, unless that entry carries VER_FLG_WEAK. A version that no relocation
// refers to (GCC 13 emits `_ZSt21ios_base_library_initv` as a link-time marker only) is safe to
// mark weak: nothing is ever looked up under it. We mark weak exactly those needed versions that
// (a) the system libstdc++ does not define and (b) no relocation uses; anything else is reported
// and left alone, because weakening it would only move the failure to a later symbol lookup.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace OpenDllm.Build
{
    /// <summary>One version requirement (`Elf64_Vernaux`) read from `.gnu.version_r`.</summary>
    public sealed class ElfVersionNeed
    {
        public ElfVersionNeed(string library, string version, ushort flags, ushort index, long flagsOffset)
        {
            Library = library; Version = version; Flags = flags; Index = index; FlagsOffset = flagsOffset;
        }
        /// <summary>The needed library's soname, e.g. <c>libstdc++.so.6</c>.</summary>
        public string Library { get; }
        /// <summary>The version name, e.g. <c>GLIBCXX_3.4.32</c>.</summary>
        public string Version { get; }
        /// <summary>`vna_flags`; bit 0x2 is VER_FLG_WEAK.</summary>
        public ushort Flags { get; }
        /// <summary>`vna_other`: the index that `.gnu.version` uses for symbols bound to this version.</summary>
        public ushort Index { get; }
        /// <summary>File offset of the two-byte `vna_flags` field.</summary>
        public long FlagsOffset { get; }
        public bool IsWeak => (Flags & ElfFile.VerFlagWeak) != 0;
    }

    /// <summary>Outcome of <see cref="GlibcxxCompat.Relax"/> for one file.</summary>
    public sealed class RelaxResult
    {
        public RelaxResult(string path, IReadOnlyList<string> weakened, IReadOnlyList<string> alreadyWeak, IReadOnlyList<string> unsafeVersions)
        {
            Path = path; Weakened = weakened; AlreadyWeak = alreadyWeak; UnsafeVersions = unsafeVersions;
        }
        public string Path { get; }
        /// <summary>Versions this call marked weak.</summary>
        public IReadOnlyList<string> Weakened { get; }
        /// <summary>Missing versions that were weak already (an earlier run patched the file).</summary>
        public IReadOnlyList<string> AlreadyWeak { get; }
        /// <summary>Missing versions that relocations use: cannot be fixed by a flag.</summary>
        public IReadOnlyList<string> UnsafeVersions { get; }
        public bool Changed => Weakened.Count > 0;
    }

    /// <summary>A minimal little-endian ELF64 reader: only what symbol versioning needs.</summary>
    public sealed class ElfFile
    {
        public const ushort VerFlagWeak = 0x2;
        const uint ShtRela = 4, ShtDynsym = 11, ShtVerdef = 0x6ffffffd, ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff;

        readonly byte[] _data;
        readonly List<Section> _sections = new List<Section>();

        sealed class Section
        {
            public uint Type; public long Offset; public long Size; public uint Link; public uint Info; public long EntSize;
        }

        ElfFile(byte[] data, string path)
        {
            _data = data;
            Path = path;
            if (data.Length < 64 || data[0] != 0x7f || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
                throw new InvalidDataException($"{path}: not an ELF file");
            if (data[4] != 2 || data[5] != 1)
                throw new InvalidDataException($"{path}: only little-endian ELF64 is supported");
            long shoff = (long)U64(0x28);
            int shentsize = U16(0x3A), shnum = U16(0x3C);
            if (shoff <= 0 || shentsize < 64 || shoff + (long)shnum * shentsize > data.Length)
                throw new InvalidDataException($"{path}: section header table is missing or truncated");
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                var s = new Section
                {
                    Type = U32(h + 4), Offset = (long)U64(h + 24), Size = (long)U64(h + 32),
                    Link = U32(h + 40), Info = U32(h + 44), EntSize = (long)U64(h + 56),
                };
                if (s.Type != 8 /* SHT_NOBITS */ && (s.Offset < 0 || s.Size < 0 || s.Offset + s.Size > data.Length))
                    throw new InvalidDataException($"{path}: section {i} lies outside the file");
                _sections.Add(s);
            }
        }

        public string Path { get; }

        public static ElfFile Read(string path) => new ElfFile(File.ReadAllBytes(path), path);

        ushort U16(long o) => (ushort)(_data[o] | _data[o + 1] << 8);
        uint U32(long o) => (uint)(_data[o] | _data[o + 1] << 8 | _data[o + 2] << 16 | _data[o + 3] << 24);
        ulong U64(long o) => U32(o) | (ulong)U32(o + 4) << 32;

        string Str(Section strtab, long index)
        {
            long start = strtab.Offset + index, end = start;
            long limit = strtab.Offset + strtab.Size;
            while (end < limit && _data[end] != 0) end++;
            return Encoding.ASCII.GetString(_data, (int)start, (int)(end - start));
        }

        /// <summary>All entries of `.gnu.version_r`: the versions this object needs, per library.</summary>
        public IReadOnlyList<ElfVersionNeed> VersionNeeds()
        {
            var result = new List<ElfVersionNeed>();
            foreach (var sec in _sections.Where(s => s.Type == ShtVerneed))
            {
                var strtab = _sections[(int)sec.Link];
                long vn = sec.Offset;
                for (uint i = 0; i < sec.Info; i++)
                {
                    ushort cnt = U16(vn + 2);
                    string file = Str(strtab, U32(vn + 4));
                    long aux = vn + U32(vn + 8);
                    for (int j = 0; j < cnt; j++)
                    {
                        result.Add(new ElfVersionNeed(file, Str(strtab, U32(aux + 8)), U16(aux + 4), U16(aux + 6), aux + 4));
                        uint next = U32(aux + 12);
                        if (next == 0) break;
                        aux += next;
                    }
                    uint vnNext = U32(vn + 12);
                    if (vnNext == 0) break;
                    vn += vnNext;
                }
            }
            return result;
        }

        /// <summary>All version names this object defines (`.gnu.version_d`), e.g. a libstdc++'s GLIBCXX_*.</summary>
        public ISet<string> VersionDefinitions()
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var sec in _sections.Where(s => s.Type == ShtVerdef))
            {
                var strtab = _sections[(int)sec.Link];
                long vd = sec.Offset;
                for (uint i = 0; i < sec.Info; i++)
                {
                    ushort cnt = U16(vd + 6);
                    long aux = vd + U32(vd + 12);
                    for (int j = 0; j < cnt; j++)
                    {
                        names.Add(Str(strtab, U32(aux)));
                        uint next = U32(aux + 4);
                        if (next == 0) break;
                        aux += next;
                    }
                    uint vdNext = U32(vd + 16);
                    if (vdNext == 0) break;
                    vd += vdNext;
                }
            }
            return names;
        }

        /// <summary>Names of the dynamic symbols bound to version index <paramref name="versionIndex"/>.</summary>
        public IReadOnlyList<string> SymbolsOfVersion(ushort versionIndex) =>
            SymbolIndicesOfVersion(versionIndex).Select(i => DynamicSymbolName(i)).ToList();

        /// <summary>True when any RELA relocation refers to a symbol bound to <paramref name="versionIndex"/>.</summary>
        public bool RelocationsUse(ushort versionIndex)
        {
            var symbols = new HashSet<long>(SymbolIndicesOfVersion(versionIndex));
            if (symbols.Count == 0) return false;
            foreach (var rela in _sections.Where(s => s.Type == ShtRela))
            {
                long entsize = rela.EntSize > 0 ? rela.EntSize : 24;
                for (long o = rela.Offset; o + entsize <= rela.Offset + rela.Size; o += entsize)
                    if (symbols.Contains((long)(U64(o + 8) >> 32))) return true;
            }
            return false;
        }

        IEnumerable<long> SymbolIndicesOfVersion(ushort versionIndex)
        {
            var versym = _sections.FirstOrDefault(s => s.Type == ShtVersym);
            if (versym == null) yield break;
            for (long i = 0; i < versym.Size / 2; i++)
                if ((U16(versym.Offset + 2 * i) & 0x7fff) == versionIndex) yield return i;
        }

        string DynamicSymbolName(long index)
        {
            var dynsym = _sections.First(s => s.Type == ShtDynsym);
            var strtab = _sections[(int)dynsym.Link];
            long entsize = dynsym.EntSize > 0 ? dynsym.EntSize : 24;
            return Str(strtab, U32(dynsym.Offset + index * entsize));
        }
    }

    /// <summary>The check and the fix, shared by the build task, the runtime check and the tests.</summary>
    public static class GlibcxxCompat
    {
        public const string LibStdCxx = "libstdc++.so.6";

        static readonly string[] LibraryDirectories =
        {
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/lib64", "/usr/lib64", "/lib", "/usr/lib",
        };

        /// <summary>The libstdc++ the dynamic loader would pick from the standard folders, or null.</summary>
        public static string? FindSystemLibStdCxx()
        {
            foreach (var dir in LibraryDirectories)
            {
                var p = System.IO.Path.Combine(dir, LibStdCxx);
                if (File.Exists(p)) return p;
            }
            return null;
        }

        /// <summary>The libstdc++ versions <paramref name="library"/> needs that <paramref name="systemLibStdCxx"/> lacks.</summary>
        public static IReadOnlyList<ElfVersionNeed> MissingVersions(string library, string systemLibStdCxx)
        {
            var defined = ElfFile.Read(systemLibStdCxx).VersionDefinitions();
            return ElfFile.Read(library).VersionNeeds()
                .Where(n => n.Library == LibStdCxx && !defined.Contains(n.Version))
                .ToList();
        }

        /// <summary>
        /// Marks weak every libstdc++ version that <paramref name="library"/> needs, the system lacks, and
        /// no relocation uses. Idempotent; writes through a temporary file and a rename, so a file shared by
        /// hard link (e.g. with the NuGet cache) is never modified, and an interrupted run leaves the old file.
        /// </summary>
        public static RelaxResult Relax(string library, string systemLibStdCxx)
        {
            var elf = ElfFile.Read(library);
            var defined = ElfFile.Read(systemLibStdCxx).VersionDefinitions();
            var missing = elf.VersionNeeds().Where(n => n.Library == LibStdCxx && !defined.Contains(n.Version)).ToList();
            var weakened = new List<ElfVersionNeed>();
            var alreadyWeak = new List<string>();
            var unsafeVersions = new List<string>();
            foreach (var need in missing)
            {
                if (need.IsWeak) alreadyWeak.Add(need.Version);
                else if (elf.RelocationsUse(need.Index)) unsafeVersions.Add(need.Version);
                else weakened.Add(need);
            }
            if (weakened.Count > 0)
            {
                var bytes = File.ReadAllBytes(library);
                foreach (var need in weakened)
                {
                    ushort flags = (ushort)(need.Flags | ElfFile.VerFlagWeak);
                    bytes[need.FlagsOffset] = (byte)flags;
                    bytes[need.FlagsOffset + 1] = (byte)(flags >> 8);
                }
                var tmp = library + ".opendllm-tmp";
                File.WriteAllBytes(tmp, bytes);
                File.Replace(tmp, library, null); // rename over the old file: atomic on Linux
            }
            return new RelaxResult(library, weakened.Select(n => n.Version).ToList(), alreadyWeak, unsafeVersions);
        }
    }

#if !OPENDLLM_LIBRARY
    /// <summary>MSBuild task: relaxes every given TorchSharp native library (see the file header).</summary>
    public sealed class RelaxGlibcxxRequirement : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public override bool Execute()
        {
            var system = GlibcxxCompat.FindSystemLibStdCxx();
            if (system == null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "OpenDllm: no system libstdc++ found; nothing to relax.");
                return true;
            }
            foreach (var item in Files)
            {
                var result = GlibcxxCompat.Relax(item.ItemSpec, system);
                if (result.Changed)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        $"OpenDllm: marked {string.Join(", ", result.Weakened)} weak in {item.ItemSpec} ({system} lacks it).");
                foreach (var v in result.UnsafeVersions)
                    Log.LogWarning($"OpenDllm: {item.ItemSpec} needs {v} from libstdc++, which {system} lacks and which relocations use; "
                        + "install a libstdc++ from GCC 13 or newer.");
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
