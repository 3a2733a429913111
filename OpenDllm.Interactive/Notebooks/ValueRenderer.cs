using System.Collections;
using System.Net;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Html;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Turns a value into an nbformat MIME bundle: text/html from the HTML hook (IHtmlContent, e.g. <c>HTML("…")</c>, is
/// written as is) and always text/plain (strings as they are, collections as [a, b, …], null as &lt;null&gt;).
/// </summary>
public sealed class ValueRenderer(Func<object, string?> htmlRenderer)
{
    const int PreviewItems = 20;

    /// <summary>The default HTML hook: the value's text, HTML-escaped, in a &lt;pre&gt;.</summary>
    public static string? DefaultHtml(object value) => $"<pre>{WebUtility.HtmlEncode(PlainText(value))}</pre>";

    public CellOutput Render(object? value, OutputType type, int? executionCount = null)
    {
        var output = new CellOutput { OutputType = type, ExecutionCount = type == OutputType.ExecuteResult ? executionCount : null };
        string? html = value switch
        {
            null => null,
            IHtmlContent content => WriteHtml(content),
            _ => htmlRenderer(value),
        };
        if (html is not null) output.Data["text/html"] = html;
        output.Data["text/plain"] = value is IHtmlContent c ? WriteHtml(c) : PlainText(value);
        return output;
    }

    static string WriteHtml(IHtmlContent content)
    {
        using var writer = new StringWriter();
        content.WriteTo(writer, HtmlEncoder.Default);
        return writer.ToString();
    }

    /// <summary>The text/plain form: ToString, except strings, null and collections (first 20 items).</summary>
    public static string PlainText(object? value)
    {
        switch (value)
        {
            case null: return "<null>";
            case string s: return s;
            case IDictionary dictionary:
                var entries = dictionary.Cast<DictionaryEntry>().Take(PreviewItems + 1)
                    .Select(e => $"[{PlainText(e.Key)}] = {PlainText(e.Value)}").ToList();
                return "{ " + Join(entries) + " }";
            case IEnumerable sequence when !HasOwnToString(value):
                var items = sequence.Cast<object?>().Take(PreviewItems + 1).Select(PlainText).ToList();
                return "[" + Join(items) + "]";
            default: return value.ToString() ?? value.GetType().FullName ?? "";
        }
    }

    static string Join(List<string> items) =>
        string.Join(", ", items.Take(PreviewItems)) + (items.Count > PreviewItems ? ", …" : "");

    /// <summary>Whether the type overrides ToString (TorchSharp tensors do; List&lt;T&gt; does not).</summary>
    static bool HasOwnToString(object value) =>
        value.GetType().GetMethod("ToString", Type.EmptyTypes)?.DeclaringType is { } declaring && declaring != typeof(object);
}
