using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Methods.Ar;
using OpenDllm.Models;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.ArFim;

/// <summary>
/// Autoregressive training with the fill-in-the-middle transformation (Bavarian et al. 2022): the fair AR baseline for
/// infilling. Each packed piece of a document becomes PSM with probability <c>train.fim.rate</c>
/// (<see cref="FimTransform.ApplyInPlace"/>), then the loss is <see cref="ArMethod"/>'s next-token cross entropy at every
/// token of the transformed rows (sentinels included, as the paper trains). The validation bound is the plain AR NLL of the
/// untransformed validation data (<c>val_nll_bits</c>), comparable with <c>objective: ar</c> and with a diffusion NELBO.
/// </summary>
/// <remarks>
/// The transformation runs on the host: the batch's tokens and document ids are read once per micro-batch. Its randomness
/// comes from one 63-bit seed drawn from the trainer's generator, so a run replays exactly from a checkpoint. Needs
/// <c>data.packing: documents</c> (pieces are the rows' document runs) and a tokenizer with FIM tokens. Logs
/// <c>fim_share</c>, the share of pieces transformed.
/// </remarks>
public sealed class ArFimMethod : ITrainingMethod
{
    /// <summary>The name recipes use.</summary>
    public const string MethodName = "ar_fim";

    readonly ArMethod _ar;
    readonly FimTokens _fim;

    public ArFimMethod(TrainingMethodContext context)
    {
        if (context.Recipe.Data.Packing != "documents")
            throw new ArgumentOutOfRangeException("data.packing", context.Recipe.Data.Packing,
                $"data.packing = {context.Recipe.Data.Packing}: ar_fim transforms each document of a packed row, so it needs data.packing: documents");
        _ar = new ArMethod(context);
        _fim = FimTokens.From(context.Tokenizer);
        Options = (context.Recipe.Train.Fim ?? new FimOptions()).Validate();
    }

    /// <summary>The FIM options in force.</summary>
    public FimOptions Options { get; }

    public string Name => MethodName;
    public LanguageModel Model => _ar.Model;
    public AttentionPolicy Attention => AttentionPolicy.Causal;
    public string BoundMetric => _ar.BoundMetric;

    public MethodLoss Loss(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var device = batch.Tokens.device;
        long seed = randint(long.MaxValue, [1], generator: generator, dtype: ScalarType.Int64).item<long>();   // the CPU generator
        var (tokens, share) = Transform(batch.Tokens, batch.DocumentIds, seed);
        var fimBatch = new PackedBatch(tokens, batch.PositionIds, batch.DocumentIds, batch.KeyPadding, batch.PaddingTokens, batch.Next,
                                       batch.HasDocumentBoundaries, batch.Prompt);        // not disposed: it shares the batch's tensors
        var loss = _ar.Loss(fimBatch, generator).Loss;
        return new MethodLoss(loss.MoveToOuterDisposeScope(), new Dictionary<string, Tensor> { ["fim_share"] = tensor(share, device: device).MoveToOuterDisposeScope() });
    }

    public BoundTerms Bound(PackedBatch batch, Generator generator) => _ar.Bound(batch, generator);

    /// <summary>
    /// The batch's rows with every document piece (a run of equal document id ≥ 0) passed through
    /// <see cref="FimTransform.ApplyInPlace"/>, drawing from <c>new Random(seed)</c> piece by piece, row by row; and the
    /// share of pieces transformed.
    /// </summary>
    public (Tensor Tokens, double Share) Transform(Tensor tokens, Tensor documentIds, long seed)
    {
        long rows = tokens.shape[0], length = tokens.shape[1];
        var ids = tokens.cpu().data<long>().ToArray();
        var docs = documentIds.cpu().data<long>().ToArray();
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        int pieces = 0, transformed = 0;
        for (long r = 0; r < rows; r++)
        {
            long o = r * length;
            for (long i = 0; i < length;)
            {
                long j = i + 1;
                while (j < length && docs[o + j] == docs[o + i]) j++;
                if (docs[o + i] >= 0)
                {
                    pieces++;
                    if (FimTransform.ApplyInPlace(ids.AsSpan((int)(o + i), (int)(j - i)), _fim, Options.Rate, random)) transformed++;
                }
                i = j;
            }
        }
        return (tensor(ids, [rows, length]).to(tokens.device), pieces == 0 ? 0 : transformed / (double)pieces);
    }
}
