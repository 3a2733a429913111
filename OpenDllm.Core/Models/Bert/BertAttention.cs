using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>HF <c>attention</c>: <c>self</c> (<see cref="BertSelfAttention"/>) then <c>output</c> (a <see cref="BertResidualOutput"/> from the hidden size).</summary>
public sealed class BertAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    [ComponentName(Name = "self")] internal readonly BertSelfAttention Self;
    [ComponentName(Name = "output")] internal readonly BertResidualOutput Output;

    public BertAttention(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertAttention))
    {
        Self = new BertSelfAttention(config, device, dtype);
        Output = new BertResidualOutput(config.HiddenSize, config, device, dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor? mask) => Output.forward(Self.forward(x, mask), x);
}
