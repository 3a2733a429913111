using System.Globalization;
using System.Text;

namespace OpenDllm.Data;

/// <summary>
/// A small tokenizer for Python source, just enough to find docstrings and comments (<see cref="PythonProseExtractor"/>):
/// names, string literals (any r/u/b/f prefix, single or triple quotes, with their decoded value), brackets, single-character
/// operators, logical-line ends (a newline outside brackets and not after a <c>\</c> continuation) and comments.
/// Indentation is not tracked: a docstring is found from the logical-line structure alone.
/// </summary>
/// <remarks>
/// Tolerant rather than strict: an unterminated string ends at its line (single quotes) or at the end of the file (triple
/// quotes), so one malformed file never stops a pass. Replacement fields of f-strings are not lexed: a Python 3.12 f-string
/// that reuses its own quote inside <c>{…}</c> is misread (f-strings are never docstrings; the rest of that line may be).
/// </remarks>
internal static class PythonSourceScanner
{
    internal enum TokenKind { Name, String, Op, Newline, Other }

    /// <summary>One token. For strings, <paramref name="Value"/> is the decoded text and <paramref name="Plain"/> says it is a
    /// <c>str</c> literal that can be a docstring (no <c>b</c> or <c>f</c> prefix). <paramref name="Depth"/>: open brackets before it.</summary>
    internal readonly record struct Token(TokenKind Kind, string Text, int Line, int Depth, string? Value = null, bool Plain = false);

    /// <summary>A comment: its 1-based line, its text from the <c>#</c> on, and whether only whitespace precedes it on its line.</summary>
    internal readonly record struct Comment(int Line, string Text, bool FullLine);

    /// <summary>The tokens and comments of <paramref name="source"/> (line ends normalised to <c>\n</c> first).</summary>
    public static (List<Token> Tokens, List<Comment> Comments) Scan(string source)
    {
        var s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        var tokens = new List<Token>();
        var comments = new List<Comment>();
        int i = 0, line = 1, depth = 0;
        bool atLineStart = true;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '\n')
            {
                if (depth == 0 && tokens.Count > 0 && tokens[^1].Kind != TokenKind.Newline)
                    tokens.Add(new Token(TokenKind.Newline, "\n", line, 0));
                line++;
                i++;
                atLineStart = true;
                continue;
            }
            if (c is ' ' or '\t' or '\f') { i++; continue; }
            if (c == '\\' && i + 1 < s.Length && s[i + 1] == '\n') { i += 2; line++; continue; }   // explicit line joining
            bool startOfLine = atLineStart;
            atLineStart = false;
            if (c == '#')
            {
                int end = s.IndexOf('\n', i);
                if (end < 0) end = s.Length;
                comments.Add(new Comment(line, s[i..end], startOfLine));
                i = end;
                continue;
            }
            if (c is '"' or '\'')
            {
                tokens.Add(ReadString(s, ref i, ref line, "", depth));
                continue;
            }
            if (char.IsLetter(c) || c == '_' || c > 127 && !char.IsWhiteSpace(c))
            {
                int start = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_' || s[i] > 127 && !char.IsWhiteSpace(s[i]))) i++;
                var word = s[start..i];
                if (i < s.Length && s[i] is '"' or '\'' && IsStringPrefix(word))
                    tokens.Add(ReadString(s, ref i, ref line, word, depth));
                else tokens.Add(new Token(TokenKind.Name, word, line, depth));
                continue;
            }
            if (char.IsDigit(c))
            {
                int start = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] is '_' or '.')) i++;
                tokens.Add(new Token(TokenKind.Other, s[start..i], line, depth));
                continue;
            }
            if (c is '(' or '[' or '{') { tokens.Add(new Token(TokenKind.Op, c.ToString(), line, depth)); depth++; i++; continue; }
            if (c is ')' or ']' or '}') { depth = Math.Max(0, depth - 1); tokens.Add(new Token(TokenKind.Op, c.ToString(), line, depth)); i++; continue; }
            if (c == ':' && i + 1 < s.Length && s[i + 1] == '=') { tokens.Add(new Token(TokenKind.Op, ":=", line, depth)); i += 2; continue; }
            tokens.Add(new Token(TokenKind.Op, c.ToString(), line, depth));
            i++;
        }
        if (tokens.Count > 0 && tokens[^1].Kind != TokenKind.Newline) tokens.Add(new Token(TokenKind.Newline, "\n", line, 0));
        return (tokens, comments);
    }

    /// <summary>r, u, b, f and their legal pairs (rb, br, fr, rf), in any case.</summary>
    static bool IsStringPrefix(string word) =>
        word.ToLowerInvariant() is "r" or "u" or "b" or "f" or "rb" or "br" or "fr" or "rf";

    /// <summary>Reads the literal starting at the quote <c>s[i]</c>; <paramref name="line"/> advances past its newlines.
    /// The token's line is where the literal starts.</summary>
    static Token ReadString(string s, ref int i, ref int line, string prefix, int depth)
    {
        int startLine = line;
        char quote = s[i];
        bool triple = i + 2 < s.Length && s[i + 1] == quote && s[i + 2] == quote;
        int open = triple ? 3 : 1;
        int contentStart = i + open, j = contentStart, contentEnd;
        while (true)
        {
            if (j >= s.Length) { contentEnd = j; i = j; break; }
            char c = s[j];
            if (c == '\\' && j + 1 < s.Length)
            {
                if (s[j + 1] == '\n') line++;
                j += 2;
                continue;
            }
            if (c == '\n')
            {
                if (!triple) { contentEnd = j; i = j; break; }   // unterminated: the string ends with its line
                line++;
            }
            if (c == quote && (!triple || j + 2 < s.Length && s[j + 1] == quote && s[j + 2] == quote))
            {
                contentEnd = j;
                i = j + open;
                break;
            }
            j++;
        }
        var lower = prefix.ToLowerInvariant();
        var raw = s[contentStart..contentEnd];
        bool isRaw = lower.Contains('r');
        bool plain = !lower.Contains('b') && !lower.Contains('f');
        return new Token(TokenKind.String, prefix + quote, startLine, depth, isRaw ? raw : Unescape(raw), plain);
    }

    /// <summary>The value of a non-raw literal's body: Python's escapes decoded (<c>\N{…}</c> and unknown escapes kept as written).</summary>
    internal static string Unescape(string body)
    {
        if (!body.Contains('\\')) return body;
        var sb = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c != '\\' || i + 1 >= body.Length) { sb.Append(c); continue; }
            char e = body[++i];
            switch (e)
            {
                case '\n': break;                                  // backslash-newline: the line continues
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case 'x' when Hex(body, i + 1, 2, out var x): sb.Append((char)x); i += 2; break;
                case 'u' when Hex(body, i + 1, 4, out var u): sb.Append((char)u); i += 4; break;
                case 'U' when Hex(body, i + 1, 8, out var big) && big <= 0x10FFFF && big is < 0xD800 or > 0xDFFF: sb.Append(char.ConvertFromUtf32((int)big)); i += 8; break;
                case >= '0' and <= '7':
                    int value = 0, digits = 0;
                    while (digits < 3 && i < body.Length && body[i] is >= '0' and <= '7') { value = value * 8 + (body[i] - '0'); i++; digits++; }
                    i--;
                    sb.Append((char)value);
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        return sb.ToString();
    }

    static bool Hex(string s, int start, int count, out uint value)
    {
        value = 0;
        return start + count <= s.Length &&
               uint.TryParse(s.AsSpan(start, count), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}
