using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>HF <c>bert.encoder</c>: the stack <c>layer.{0…N−1}</c> of <see cref="BertLayer"/>s.</summary>
public sealed class BertEncoder : nn.Module
{
    [ComponentName(Name = "layer")] internal readonly ModuleList<BertLayer> Layers;

    public BertEncoder(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertEncoder))
    {
        Layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new BertLayer(config, device, dtype)).ToArray());
        RegisterComponents();
    }
}
