using System.Text;
using System.Text.RegularExpressions;

namespace OpenDllm.Data;

/// <summary>
/// A file-name pattern over '/'-separated relative paths: <c>*</c> matches within one path segment, <c>?</c> one
/// character, <c>**</c> any number of segments (<c>**/*.py</c> matches <c>a.py</c> and <c>x/y/a.py</c>;
/// <c>**/test/**</c> matches everything under any <c>test</c> folder). A pattern without '/' matches the file name
/// at any depth (<c>*.py</c> = <c>**/*.py</c>), as in .gitignore. Matching is case-sensitive (ordinal).
/// </summary>
public sealed class Glob
{
    readonly Regex _regex;

    /// <summary>Compiles <paramref name="pattern"/>.</summary>
    public Glob(string pattern)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        Pattern = pattern;
        var p = pattern.Replace('\\', '/').TrimStart('/');
        if (p.StartsWith("./", StringComparison.Ordinal)) p = p[2..];
        if (!p.Contains('/')) p = "**/" + p;
        _regex = new Regex("^" + Translate(p) + "$", RegexOptions.CultureInvariant);
    }

    /// <summary>The pattern as given.</summary>
    public string Pattern { get; }

    /// <summary>True when <paramref name="relativePath"/> ('/'-separated, no leading '/') matches.</summary>
    public bool IsMatch(string relativePath) => _regex.IsMatch(relativePath);

    /// <summary>True when any of <paramref name="globs"/> matches <paramref name="relativePath"/>.</summary>
    public static bool Any(IEnumerable<Glob> globs, string relativePath) => globs.Any(g => g.IsMatch(relativePath));

    static string Translate(string p)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == '*' && i + 1 < p.Length && p[i + 1] == '*')
            {
                bool atStart = i == 0 || p[i - 1] == '/';
                bool slashAfter = i + 2 < p.Length && p[i + 2] == '/';
                bool atEnd = i + 2 == p.Length;
                if (atStart && slashAfter) { sb.Append("(?:.*/)?"); i += 2; continue; }   // "**/"
                if (atStart && atEnd && i > 0) { sb.Length--; sb.Append("(?:/.*)?"); i += 1; continue; }   // "/**"
                sb.Append(".*");
                i += 1;
                continue;
            }
            sb.Append(p[i] switch
            {
                '*' => "[^/]*",
                '?' => "[^/]",
                _ => Regex.Escape(p[i].ToString()),
            });
        }
        return sb.ToString();
    }
}
