using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Papermill-style parameters for C# notebooks: the first cell tagged "parameters" declares variables; a run's
/// <c>name=value</c> overrides become a cell of assignments injected right after it (tagged "injected-parameters").
/// A value is converted to the declared variable's type when it is a primitive, string or enum; otherwise it is a
/// C# number/bool literal when it reads as one, else a string literal.
/// </summary>
public static class NotebookParameters
{
    public const string Tag = "parameters";
    public const string InjectedTag = "injected-parameters";

    /// <summary>The variables the cell declares at top level (<c>var n = 1;</c>, <c>int n = 1;</c>), in order.</summary>
    public static IReadOnlyList<string> DeclaredNames(string code)
    {
        var options = CSharpParseOptions.Default.WithKind(SourceCodeKind.Script).WithLanguageVersion(LanguageVersion.Latest);
        var root = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(CellMagics.Parse(code).Code, options).GetRoot();
        var names = new List<string>();
        foreach (var member in root.Members)
        {
            var declaration = member switch
            {
                GlobalStatementSyntax { Statement: LocalDeclarationStatementSyntax local } => local.Declaration,
                FieldDeclarationSyntax field => field.Declaration,
                _ => null,
            };
            if (declaration is not null) names.AddRange(declaration.Variables.Select(v => v.Identifier.ValueText));
        }
        return names.Distinct().ToList();
    }

    /// <summary>Throws ArgumentException for a name the parameters cell does not declare, listing those it does.</summary>
    public static void Validate(IReadOnlyDictionary<string, string> overrides, IReadOnlyList<string> declared, string where)
    {
        foreach (var name in overrides.Keys.Where(n => !declared.Contains(n)))
            throw new ArgumentException($"{where}: unknown parameter \"{name}\"; the parameters cell declares: "
                                        + (declared.Count == 0 ? "nothing" : string.Join(", ", declared)));
    }

    /// <summary>The injected cell's source: one assignment per override.</summary>
    /// <param name="typeOf">The declared type of a variable once the parameters cell has run (null when unknown).</param>
    public static string InjectedSource(IReadOnlyDictionary<string, string> overrides, Func<string, Type?> typeOf)
    {
        var source = new StringBuilder("// Parameters injected by `opendllm notebook run`\n");
        foreach (var (name, value) in overrides) source.Append(name).Append(" = ").Append(Literal(name, value, typeOf(name))).Append(";\n");
        return source.ToString().TrimEnd('\n');
    }

    /// <summary>The C# literal for <paramref name="value"/> as a <paramref name="type"/> (or by its look when untyped).</summary>
    public static string Literal(string name, string value, Type? type)
    {
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        if (type is null || type == typeof(object) || !(type.IsPrimitive || type == typeof(string) || type == typeof(decimal) || type.IsEnum))
            return UntypedLiteral(value);
        try
        {
            if (type.IsEnum)
                return $"global::{type.FullName!.Replace('+', '.')}.{Enum.Parse(type, value, ignoreCase: true)}";
            object converted = type == typeof(bool) ? bool.Parse(value) : Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
            return converted switch
            {
                bool b => b ? "true" : "false",
                string s => SymbolDisplay.FormatLiteral(s, quote: true),
                char c => SymbolDisplay.FormatLiteral(c, quote: true),
                int i => SyntaxFactory.Literal(i).Text,
                long l => SyntaxFactory.Literal(l).Text,
                float f => SyntaxFactory.Literal(f).Text,
                double d => SyntaxFactory.Literal(d).Text,
                decimal m => SyntaxFactory.Literal(m).Text,
                uint u => SyntaxFactory.Literal(u).Text,
                ulong u => SyntaxFactory.Literal(u).Text,
                _ => $"({type.Name}){SymbolDisplay.FormatPrimitive(converted, quoteStrings: true, useHexadecimalNumbers: false)}",
            };
        }
        catch (Exception e) when (e is FormatException or OverflowException or InvalidCastException or ArgumentException)
        {
            throw new ArgumentException($"parameter \"{name}\": the parameters cell declares it as {type.Name}, and \"{value}\" is not one ({e.Message})", e);
        }
    }

    static string UntypedLiteral(string value)
    {
        if (value is "true" or "false") return value;
        if (int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return SyntaxFactory.Literal(i).Text;
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return SyntaxFactory.Literal(l).Text;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
            return SyntaxFactory.Literal(d).Text;
        return SymbolDisplay.FormatLiteral(value, quote: true);
    }
}
