using System.Security.Cryptography;
using OpenDllm.Checkpoints;
using static TorchSharp.torch;

namespace OpenDllm.Lora;

/// <summary>The identity of the frozen weights an adapter was trained on, so a resume on other base weights is refused.</summary>
public static class BaseWeights
{
    /// <summary>SHA-256 over every parameter's name, dtype, shape and bytes, in module order (tied weights once).</summary>
    public static string Sha256(nn.Module model)
    {
        using var sha = SHA256.Create();
        using (var stream = new CryptoStream(Stream.Null, sha, CryptoStreamMode.Write))
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                stream.Write(System.Text.Encoding.UTF8.GetBytes($"{name}|{parameter.dtype}|{string.Join(",", parameter.shape)}\n"));
                using var scope = NewDisposeScope();
                TensorBytes.WriteTo(parameter.detach().cpu().contiguous(), stream);
            }
        }
        return Convert.ToHexStringLower(sha.Hash!);
    }
}
