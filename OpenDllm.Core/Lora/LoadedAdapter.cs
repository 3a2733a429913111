namespace OpenDllm.Lora;

/// <summary>A PEFT adapter folder applied to a loaded model: where it came from, its hash, and the attached adapters.</summary>
/// <param name="Directory">the adapter folder, as a full path.</param>
/// <param name="Sha256">SHA-256 of its config and weights (<see cref="PeftAdapterIO.Hash"/>); results record it.</param>
public sealed record LoadedAdapter(string Directory, string Sha256, LoraAdapters Adapters)
{
    /// <summary>Reads the adapter in <paramref name="directory"/> and attaches it to <paramref name="model"/> (base frozen).</summary>
    public static LoadedAdapter Apply(TorchSharp.torch.nn.Module model, string directory)
    {
        var full = Path.GetFullPath(directory);
        var adapters = PeftAdapterIO.Load(model, full);
        return new LoadedAdapter(full, PeftAdapterIO.Hash(full), adapters);
    }
}
