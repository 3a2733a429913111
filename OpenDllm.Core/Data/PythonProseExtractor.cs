using System.Text;
using System.Text.RegularExpressions;
using static OpenDllm.Data.PythonSourceScanner;

namespace OpenDllm.Data;

/// <summary>Where a piece of prose in a Python file came from.</summary>
public enum PythonProseKind
{
    /// <summary>A module, class or function docstring.</summary>
    Docstring,
    /// <summary>A block of consecutive full-line <c>#</c> comments.</summary>
    Comment,
}

/// <summary>One piece of prose of a Python file: the 1-based line it starts on, its kind, and its text (unfiltered).</summary>
public sealed record PythonProse(int Line, PythonProseKind Kind, string Text);

/// <summary>
/// Finds the English prose of one Python source file: docstrings and comment blocks, in the order they appear.
/// </summary>
/// <remarks>
/// <para><b>Docstrings.</b> A statement made only of <c>str</c> literals (one, or several adjacent ones, concatenated) that is
/// the first statement of the module, or of a <c>class</c> / <c>def</c> / <c>async def</c> body, whether the body starts on
/// the header's line (<c>def f(): "doc"</c>) or on the next logical line. Nested definitions count. Byte strings and
/// f-strings are not docstrings (as in Python), nor is any other string, e.g. one assigned to a name. The value is the
/// literal's decoded value, cleaned as <c>inspect.cleandoc</c> does (<see cref="CleanDoc"/>).</para>
/// <para><b>Comments</b> (when asked for). Full-line comments on consecutive lines form one block; a comment after code on
/// its line is not prose and is ignored. Each line loses its leading <c>#</c> characters and one space after them; the block
/// is then dedented and its leading and trailing blank lines dropped. These lines are not prose and end the block they are
/// in (<see cref="IsNonProseComment"/>): a shebang or an encoding declaration on lines 1–2; a pragma (<c>noqa</c>,
/// <c>type:</c>, <c>pragma</c>, <c>pylint:</c>, <c>fmt:</c>, <c>isort:</c>, <c>mypy:</c>, <c>flake8</c>, editor mode lines);
/// a line with no letter (rulers such as <c>#####</c>; a lone <c>#</c> is a paragraph break within the block); and a line that looks like code: it contains <c>=</c>, starts with
/// <c>import</c> / <c>from … import</c> / <c>return</c> / <c>raise</c> / <c>del</c> / <c>print(</c>, or starts with a
/// compound-statement keyword and ends with <c>:</c>.</para>
/// </remarks>
public static partial class PythonProseExtractor
{
    /// <summary>The docstrings (and comment blocks when <paramref name="includeComments"/>) of <paramref name="source"/>, by line.</summary>
    public static IReadOnlyList<PythonProse> Extract(string source, bool includeComments = true)
    {
        var (tokens, comments) = Scan(source);
        var found = Docstrings(tokens);
        if (includeComments) found.AddRange(CommentBlocks(comments));
        return found.OrderBy(p => p.Line).ThenBy(p => p.Kind).ToList();
    }

    static List<PythonProse> Docstrings(List<Token> tokens)
    {
        var found = new List<PythonProse>();
        void Take(int start)
        {
            if (DocstringAt(tokens, start) is { } doc) found.Add(doc);
        }
        Take(0);                                                   // the module's first statement
        for (int i = 0; i < tokens.Count; i++)
        {
            bool lineStart = i == 0 || tokens[i - 1].Kind == TokenKind.Newline;
            if (!lineStart || tokens[i].Kind != TokenKind.Name) continue;
            int keyword = tokens[i].Text == "async" && i + 1 < tokens.Count && tokens[i + 1].Text == "def" ? i + 1 : i;
            if (tokens[keyword].Text is not ("def" or "class")) continue;
            int colon = keyword + 1;
            while (colon < tokens.Count && tokens[colon].Kind != TokenKind.Newline && !(tokens[colon].Text == ":" && tokens[colon].Depth == 0)) colon++;
            if (colon >= tokens.Count || tokens[colon].Kind == TokenKind.Newline) continue;   // not a header (e.g. a name `class` in old code)
            Take(tokens[colon + 1].Kind == TokenKind.Newline ? colon + 2 : colon + 1);     // body on the next line, or on this one
        }
        return found;
    }

    /// <summary>The docstring when the statement at <paramref name="start"/> is only <c>str</c> literals, else null.</summary>
    static PythonProse? DocstringAt(List<Token> tokens, int start)
    {
        int end = start;
        while (end < tokens.Count && tokens[end].Kind == TokenKind.String) end++;
        if (end == start || end < tokens.Count && tokens[end].Kind != TokenKind.Newline && tokens[end].Text != ";") return null;
        var parts = tokens.GetRange(start, end - start);
        if (parts.Any(t => !t.Plain)) return null;
        return new PythonProse(parts[0].Line, PythonProseKind.Docstring, CleanDoc(string.Concat(parts.Select(t => t.Value))));
    }

    static IEnumerable<PythonProse> CommentBlocks(List<Comment> comments)
    {
        var block = new List<string>();
        int first = 0, previous = -1;
        foreach (var comment in comments)
        {
            bool prose = comment.FullLine && !IsNonProseComment(comment.Line, comment.Text);
            if (!prose || comment.Line != previous + 1)
            {
                if (Flush(block, first) is { } done) yield return done;
                block.Clear();
            }
            previous = comment.Line;
            if (!prose) { previous = -1; continue; }
            if (block.Count == 0) first = comment.Line;
            var text = comment.Text.TrimStart('#');
            block.Add(text.StartsWith(' ') ? text[1..] : text);
        }
        if (Flush(block, first) is { } last) yield return last;
    }

    static PythonProse? Flush(List<string> lines, int line)
    {
        if (lines.Count == 0) return null;
        var text = Dedent(lines.Select(l => l.TrimEnd()).ToList(), firstLineToo: true);
        return text.Length == 0 ? null : new PythonProse(line, PythonProseKind.Comment, text);
    }

    /// <summary>
    /// True for a comment line that is not prose (see the remarks of <see cref="PythonProseExtractor"/>): shebang or encoding
    /// line (lines 1–2), pragma, a line without letters, or a line that looks like code.
    /// </summary>
    /// <param name="line">The comment's 1-based line number.</param>
    /// <param name="comment">The comment from its <c>#</c> on.</param>
    public static bool IsNonProseComment(int line, string comment)
    {
        if (line <= 2 && (comment.StartsWith("#!", StringComparison.Ordinal) || EncodingDeclaration().IsMatch(comment))) return true;
        var text = comment.TrimStart('#').Trim();
        if (text.Length == 0) return comment.Trim() != "#";      // a lone '#' is a paragraph break inside a block; '####' a ruler
        if (Pragma().IsMatch(text)) return true;
        if (!text.Any(char.IsLetter)) return true;
        return LooksLikeCode().IsMatch(text);
    }

    /// <summary>
    /// <c>inspect.cleandoc</c>: tabs expanded to 8 columns; the first line's leading whitespace removed; the smallest
    /// indentation of the other non-blank lines removed from each of them; leading and trailing empty lines dropped.
    /// </summary>
    public static string CleanDoc(string docstring)
    {
        var lines = ExpandTabs(docstring).Split('\n').ToList();
        return Dedent(lines, firstLineToo: false);
    }

    static string Dedent(List<string> lines, bool firstLineToo)
    {
        int margin = int.MaxValue;
        for (int i = firstLineToo ? 0 : 1; i < lines.Count; i++)
        {
            int content = lines[i].TrimStart().Length;
            if (content > 0) margin = Math.Min(margin, lines[i].Length - content);
        }
        if (lines.Count > 0 && !firstLineToo) lines[0] = lines[0].TrimStart();
        if (margin < int.MaxValue)
            for (int i = firstLineToo ? 0 : 1; i < lines.Count; i++) lines[i] = lines[i].Length <= margin ? "" : lines[i][margin..];
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        while (lines.Count > 0 && lines[0].Length == 0) lines.RemoveAt(0);
        return string.Join('\n', lines);
    }

    static string ExpandTabs(string text)
    {
        if (!text.Contains('\t')) return text;
        var sb = new StringBuilder(text.Length + 16);
        int column = 0;
        foreach (char c in text)
        {
            if (c == '\t') { int spaces = 8 - column % 8; sb.Append(' ', spaces); column += spaces; }
            else { sb.Append(c); column = c is '\n' or '\r' ? 0 : column + 1; }
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"^#.*coding[:=]\s*[-\w.]+")]
    private static partial Regex EncodingDeclaration();

    [GeneratedRegex(@"^(noqa\b|type:|pragma\b|pylint:|fmt:|isort:|mypy:|flake8\b|-\*-|vim?:|ex:)", RegexOptions.IgnoreCase)]
    private static partial Regex Pragma();

    [GeneratedRegex(@"=|^(import\s|from\s+\S+\s+import\b|return\b|raise\s|del\s|print\()|^(if|elif|else|for|while|try|except|finally|with|def|class|async)\b.*:$")]
    private static partial Regex LooksLikeCode();
}
