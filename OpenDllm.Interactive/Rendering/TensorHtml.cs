using System.Text;
using OpenDllm.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Interactive;

/// <summary>
/// Renders a TorchSharp tensor as a self-contained HTML fragment (inline CSS only): shape, dtype, device, summary
/// statistics, a values preview, a heatmap for 2-D data and, for integer tensors with a tokenizer, the decoded tokens.
/// </summary>
public static class TensorHtml
{
    const string Style =
        "<style>.odl-tensor{font:13px/1.4 system-ui,sans-serif;margin:.4em 0}.odl-tensor .hdr code{background:#eef;padding:0 .3em;border-radius:3px}" +
        ".odl-tensor table.vals{border-collapse:collapse;font:12px ui-monospace,monospace;margin:.3em 0}" +
        ".odl-tensor table.vals td,.odl-tensor table.vals th{border:1px solid #ddd;padding:1px 5px;text-align:right}" +
        ".odl-tensor table.vals th{background:#f4f4f4;color:#666;font-weight:normal}" +
        ".odl-tensor table.heat{border-collapse:collapse;margin:.3em 0}.odl-tensor table.heat td{width:9px;height:9px;padding:0}" +
        ".odl-tensor .toks span{display:inline-block;border:1px solid #ccd;border-radius:3px;margin:1px;padding:0 2px;white-space:pre;font:12px ui-monospace,monospace;background:#f7f7ff}" +
        ".odl-tensor .note{color:#777;font-size:11px}</style>";

    /// <summary>Renders <paramref name="tensor"/>; token-id tensors (integer dtype) are decoded when a tokenizer is given.</summary>
    /// <param name="tensor">Any tensor on any device; it is copied to the CPU for the preview.</param>
    /// <param name="tokenizer">Decodes integer tensors (rows of token ids) when given.</param>
    /// <param name="maxRows">Rows shown in the values preview and the decoded tokens.</param>
    /// <param name="maxCols">Columns shown in the values preview.</param>
    /// <param name="maxHeat">Largest heatmap side in cells (the top-left corner is shown beyond it).</param>
    public static string Render(Tensor tensor, ITokenizer? tokenizer = null, int maxRows = 12, int maxCols = 16, int maxHeat = 64)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = NewDisposeScope();
        var t = tensor.detach().cpu();
        var sb = new StringBuilder("<div class=\"odl-tensor\">").Append(Style);
        sb.Append("<div class=\"hdr\"><b>Tensor</b> shape <code>[").Append(string.Join(", ", t.shape)).Append("]</code> dtype <code>")
          .Append(t.dtype).Append("</code> device <code>").Append(Html.Escape(tensor.device.ToString())).Append("</code> numel <code>")
          .Append(t.numel()).Append("</code></div>");
        bool complex = t.is_complex();
        if (!complex && t.numel() > 0) sb.Append(Stats(t));
        if (complex) sb.Append("<div class=\"note\">complex tensor: preview not shown</div>");
        else if (t.numel() > 0)
        {
            var m = AsMatrix(t, out string? note);
            sb.Append(Preview(m, maxRows, maxCols, IsInteger(t.dtype) || t.dtype == ScalarType.Bool, note));
            if (t.dim() == 2 && t.shape[0] > 1 && t.shape[1] > 1) sb.Append(Heatmap(m, maxHeat));
            if (tokenizer is not null && IsInteger(t.dtype) && t.dim() is 1 or 2) sb.Append(Tokens(m, tokenizer, maxRows));
        }
        return sb.Append("</div>").ToString();
    }

    static bool IsInteger(ScalarType d) => d is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte;

    static string Stats(Tensor t)
    {
        var d = t.to(ScalarType.Float64);
        var sb = new StringBuilder("<div class=\"stats\">");
        if (t.dtype == ScalarType.Bool)
            return sb.Append("true: <b>").Append(d.sum().item<double>()).Append("</b> of ").Append(t.numel()).Append("</div>").ToString();
        long nan = d.isnan().sum().item<long>(), inf = d.isinf().sum().item<long>();
        var finite = d.masked_select(d.isfinite());
        if (finite.numel() > 0)
        {
            sb.Append("min <b>").Append(Html.Number(finite.min().item<double>())).Append("</b> max <b>")
              .Append(Html.Number(finite.max().item<double>())).Append("</b> mean <b>").Append(Html.Number(finite.mean().item<double>()))
              .Append("</b> std <b>").Append(finite.numel() > 1 ? Html.Number(finite.std().item<double>()) : "–").Append("</b>");
        }
        if (t.is_floating_point()) sb.Append(" NaN <b>").Append(nan).Append("</b> inf <b>").Append(inf).Append("</b>");
        return sb.Append("</div>").ToString();
    }

    /// <summary>The tensor as a [rows, cols] float64 matrix: 0-D → 1×1, 1-D → 1×n, k-D → leading dims flattened.</summary>
    static double[][] AsMatrix(Tensor t, out string? note)
    {
        note = t.dim() > 2 ? $"leading dimensions flattened to rows: [{t.shape[..^1].Aggregate(1L, (a, b) => a * b)}, {t.shape[^1]}]" : null;
        var m = t.dim() switch { 0 => t.reshape(1, 1), 1 => t.unsqueeze(0), 2 => t, _ => t.reshape(-1, t.shape[^1]) };
        int rows = (int)m.shape[0], cols = (int)m.shape[1];
        // Keep at most what any view needs (the heatmap's 64×64 or the preview), so huge tensors stay cheap.
        int r = Math.Min(rows, 256), c = Math.Min(cols, 256);
        var part = m.narrow(0, 0, r).narrow(1, 0, c).to(ScalarType.Float64).contiguous();
        var flat = part.data<double>().ToArray();
        return Enumerable.Range(0, r).Select(i => flat.AsSpan(i * c, c).ToArray()).ToArray();
    }

    static string Preview(double[][] m, int maxRows, int maxCols, bool integral, string? note)
    {
        var sb = new StringBuilder("<table class=\"vals\"><tr><th></th>");
        int cols = Math.Min(m[0].Length, maxCols);
        for (int j = 0; j < cols; j++) sb.Append("<th>").Append(j).Append("</th>");
        sb.Append("</tr>");
        for (int i = 0; i < Math.Min(m.Length, maxRows); i++)
        {
            sb.Append("<tr><th>").Append(i).Append("</th>");
            for (int j = 0; j < cols; j++) sb.Append("<td>").Append(integral ? ((long)m[i][j]).ToString() : Html.Number(m[i][j])).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</table>");
        if (note is not null) sb.Append("<div class=\"note\">").Append(Html.Escape(note)).Append("</div>");
        return sb.ToString();
    }

    static string Heatmap(double[][] m, int maxHeat)
    {
        int rows = Math.Min(m.Length, maxHeat), cols = Math.Min(m[0].Length, maxHeat);
        var shown = m.Take(rows).SelectMany(r => r.Take(cols)).Where(double.IsFinite).ToArray();
        double lo = shown.Length > 0 ? shown.Min() : 0, hi = shown.Length > 0 ? shown.Max() : 1;
        var sb = new StringBuilder("<div class=\"note\">heatmap (viridis, ").Append(Html.Number(lo)).Append(" … ").Append(Html.Number(hi))
            .Append(rows < m.Length || cols < m[0].Length ? $", top-left {rows}×{cols}" : "").Append(")</div><table class=\"heat\">");
        for (int i = 0; i < rows; i++)
        {
            sb.Append("<tr>");
            for (int j = 0; j < cols; j++)
            {
                double v = m[i][j];
                string c = Html.Viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5);
                sb.Append("<td style=\"background:").Append(c).Append("\" title=\"[").Append(i).Append(',').Append(j).Append("] = ")
                  .Append(Html.Number(v)).Append("\"></td>");
            }
            sb.Append("</tr>");
        }
        return sb.Append("</table>").ToString();
    }

    static string Tokens(double[][] m, ITokenizer tokenizer, int maxRows)
    {
        var sb = new StringBuilder("<div class=\"toks\"><div class=\"note\">decoded with ").Append(Html.Escape(tokenizer.Name)).Append("</div>");
        for (int i = 0; i < Math.Min(m.Length, maxRows); i++)
        {
            var ids = m[i].Select(v => (int)v).ToArray();
            sb.Append("<div>");
            foreach (var id in ids.Take(128))
                sb.Append("<span title=\"id ").Append(id).Append("\">").Append(Html.Escape(tokenizer.Decode([id]))).Append("</span>");
            sb.Append("<pre>").Append(Html.Escape(tokenizer.Decode(ids))).Append("</pre></div>");
        }
        return sb.Append("</div>").ToString();
    }
}
