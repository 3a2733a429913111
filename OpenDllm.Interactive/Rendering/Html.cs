using System.Globalization;
using System.Net;
using System.Text;

namespace OpenDllm.Interactive;

/// <summary>Small helpers shared by the HTML renderers: escaping, number formatting, colours and the page shell.</summary>
public static class Html
{
    /// <summary>HTML-escapes text for element content and double-quoted attribute values.</summary>
    public static string Escape(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>A compact invariant-culture number: 4 significant digits, "NaN", "inf" or "-inf".</summary>
    public static string Number(double value) => value switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "inf",
        double.NegativeInfinity => "-inf",
        _ when value == Math.Floor(value) && Math.Abs(value) < 1e9 => value.ToString("0", CultureInfo.InvariantCulture),
        _ => value.ToString("G4", CultureInfo.InvariantCulture),
    };

    static readonly (double R, double G, double B)[] ViridisStops =
    [
        (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37),
    ];

    /// <summary>The viridis colour at <paramref name="x"/> ∈ [0, 1] as <c>#rrggbb</c> (NaN gives light grey).</summary>
    public static string Viridis(double x)
    {
        if (double.IsNaN(x)) return "#dddddd";
        x = Math.Clamp(x, 0, 1) * (ViridisStops.Length - 1);
        int i = Math.Min((int)x, ViridisStops.Length - 2);
        double f = x - i;
        var (a, b) = (ViridisStops[i], ViridisStops[i + 1]);
        int C(double u, double v) => (int)Math.Round(u + (v - u) * f);
        return $"#{C(a.R, b.R):x2}{C(a.G, b.G):x2}{C(a.B, b.B):x2}";
    }

    /// <summary>Black or white, whichever reads better on <paramref name="background"/> (<c>#rrggbb</c>).</summary>
    public static string TextOn(string background)
    {
        int r = Convert.ToInt32(background[1..3], 16), g = Convert.ToInt32(background[3..5], 16), b = Convert.ToInt32(background[5..7], 16);
        return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#000" : "#fff";
    }

    /// <summary>A categorical colour (tab10) for series <paramref name="index"/>.</summary>
    public static string SeriesColor(int index) =>
        new[] { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" }[index % 10];

    /// <summary>A fresh element id with a prefix, unique within the process (several outputs can share a page).</summary>
    public static string NewId(string prefix) => $"{prefix}-{Interlocked.Increment(ref _ids)}-{Guid.NewGuid().ToString("N")[..6]}";
    static long _ids;

    /// <summary>
    /// Wraps a fragment into a full, offline HTML5 document. <paramref name="head"/> is inserted into
    /// <c>&lt;head&gt;</c> as is (inline styles or scripts only: no external references).
    /// </summary>
    public static string Page(string title, string body, string? head = null)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
          .Append("<title>").Append(Escape(title)).Append("</title>\n")
          .Append("<style>body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}")
          .Append("pre{background:#f6f8fa;padding:.6em;overflow-x:auto}</style>\n");
        if (head is not null) sb.Append(head).Append('\n');
        sb.Append("</head>\n<body>\n").Append(body).Append("\n</body>\n</html>\n");
        return sb.ToString();
    }
}
