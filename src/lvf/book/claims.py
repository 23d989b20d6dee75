"""The paper's claims, one entry per claim the book tests (its figures,
tables and statements, with the section that makes them).

The reproduction report lists every entry of :data:`CLAIMS`, joined with the records the
chapters write (:mod:`lvf.book.report`): an entry names the record ids that test it. A claim no
chapter tests still appears, with the reason in :attr:`PaperClaim.untested`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLAIMS", "PaperClaim", "claim_of_record"]


@dataclass(frozen=True)
class PaperClaim:
    """One claim of the paper.

    Attributes
    ----------
    id
        Stable identifier (usually the id of the record that tests it).
    section
        The book's group of the claim: ``"1.x"`` definitions and theory, ``"2.x"`` the
        experiments in the paper's order, e.g. ``"2.3"``.
    where
        The paper's figure, table or section, e.g. ``"Fig. 2 (left)"``.
    text
        The claim, in a sentence.
    tested_by
        Ids of the chapter records (:func:`lvf.book.report.record`) that test it.
    untested
        Why no chapter tests it, when ``tested_by`` is empty.
    """

    id: str
    section: str
    where: str
    text: str
    tested_by: tuple[str, ...] = ()
    untested: str = ""


CLAIMS: tuple[PaperClaim, ...] = (
    # ---- §1 definitions and theory (Sec. 2, 3.1, App. A) ---------------------------------
    PaperClaim(
        "sec2-regularization-contracts",
        "1.1",
        "Sec. 2",
        "Training objectives and regularizers (noise, weight decay, a bottleneck) make the "
        "map f locally contractive around the data.",
        ("sec2-regularization-contracts", "a3-local-contraction"),
    ),
    PaperClaim(
        "def2-attractors-stable",
        "1.3",
        "Def. 2",
        "The points iteration converges to are attractors: fixed points whose Jacobian has "
        "every eigenvalue inside the unit circle.",
        ("def2-attractors-stable", "def2-end-points-are-attractors"),
    ),
    PaperClaim(
        "thm1-field-along-score",
        "1.6",
        "Sec. 3.1, Thm. A",
        "The field f(z) − z points along the score ∇ log q(z) of the latent density.",
        ("thm1-field-along-score",),
    ),
    PaperClaim(
        "thm1-attractors-at-density-modes",
        "1.6",
        "Sec. 3.1",
        "Attractors sit at the modes of the latent density.",
        ("thm1-attractors-at-density-modes",),
    ),
    PaperClaim(
        "prop31-not-gradient-descent",
        "1.6",
        "Prop. 3.1",
        "Fixed-point iteration is not gradient descent on ‖f(z) − z‖².",
        ("prop31-not-gradient-descent",),
    ),
    PaperClaim(
        "prop32-prototype-bound",
        "1.6",
        "Prop. 3.2",
        "Decoded attractors approximate the data they were trained on (prototype bound).",
        ("prop32-prototype-bound",),
    ),
    PaperClaim(
        "a1-symmetric-jacobian-potential",
        "1.6",
        "App. A.1",
        "A symmetric Jacobian (tied weights) makes the field a gradient field with a potential.",
        ("a1-symmetric-jacobian-potential",),
    ),
    PaperClaim(
        "a4-linear-ae",
        "1.6",
        "App. A",
        "A linear autoencoder has the origin as its only fixed point; a PCA-aligned one has a "
        "vanishing field on its subspace.",
        ("a4-linear-ae",),
    ),
    # ---- §2.1 Fig. 1 ----------------------------------------------------------------------
    PaperClaim(
        "fig1-several-attractors",
        "2.1",
        "Fig. 1",
        "Conv autoencoders with k = 2 trained on MNIST have several attractors, where the "
        "field vanishes.",
        ("fig1-several-attractors",),
    ),
    PaperClaim(
        "fig1-attractors-at-density",
        "2.1",
        "Fig. 1",
        "Attractors are aligned with high-density areas of the data distribution.",
        ("fig1-attractors-at-density",),
    ),
    # ---- §2.2 Fig. 6 ----------------------------------------------------------------------
    PaperClaim(
        "fig6-backbones-contract",
        "2.2",
        "Fig. 6, App. B.1",
        "Randomly initialised vision backbones contract: σ_out/σ_in < 1 for N(0, I) inputs.",
        ("fig6-backbones-contract", "sec2-init-contracts-conv-ae"),
    ),
    PaperClaim(
        "fig3-one-attractor-at-init",
        "2.2, 2.4",
        "Fig. 3c, App. B.1",
        "At initialization the map has a single attractor.",
        ("fig3-one-attractor-at-init", "fig3c-single-attractor-at-init"),
    ),
    # ---- §2.3 Fig. 2, 13 left, 14 -----------------------------------------------------------
    PaperClaim(
        "fig2-small-k-memorizes",
        "2.3",
        "Fig. 2 (left)",
        "Small bottlenecks (k = 2 … 16) memorize: their attractors are close to training images.",
        ("fig2-small-k-memorizes",),
    ),
    PaperClaim(
        "fig2-small-k-generalizes-worse",
        "2.3",
        "Fig. 2 (center)",
        "The models that memorize generalize worse: test error falls as k grows.",
        ("fig2-small-k-generalizes-worse",),
    ),
    PaperClaim(
        "fig2-memorization-vs-generalization",
        "2.3",
        "Fig. 2 (caption)",
        "Memorization is inversely related to generalization across bottlenecks.",
        ("fig2-memorization-vs-generalization",),
    ),
    PaperClaim(
        "fig13-rank-grows-with-k",
        "2.3, 2.8",
        "Fig. 13 (left)",
        "Attractors of well-generalizing models span more directions: rank-90 grows with k.",
        ("fig13-rank-grows-with-k",),
    ),
    PaperClaim(
        "fig14-less-data-more-memorization",
        "2.3",
        "Fig. 14, App. B.6",
        "With k = 128 and weight decay 1e-4, less training data means more memorization.",
        ("fig14-less-data-more-memorization",),
    ),
    # ---- §2.4 Fig. 3, 13 right --------------------------------------------------------------
    PaperClaim(
        "fig3a-2d-field-expands",
        "2.4",
        "Fig. 3a",
        "Across training, the field of a k = 2 model expands from a single attractor and "
        "stabilizes.",
        ("fig3a-2d-field-expands",),
    ),
    PaperClaim(
        "fig3b-memorize-then-generalize",
        "2.4",
        "Fig. 3b",
        "Models memorize in the first epochs, then generalize: memorization falls as test "
        "error falls.",
        ("fig3b-memorize-then-generalize",),
    ),
    PaperClaim(
        "fig3c-distinct-attractors-grow",
        "2.4",
        "Fig. 3c",
        "The fraction of distinct attractors from training and test starts grows in tandem; "
        "noise starts converge more slowly.",
        ("fig3c-distinct-attractors-grow",),
    ),
    PaperClaim(
        "fig3d-chamfer-increases",
        "2.4",
        "Fig. 3d",
        "Chamfer similarity of noise and training attractors increases across training.",
        ("fig3d-chamfer-increases",),
    ),
    PaperClaim(
        "fig3d-fpr95-decreases",
        "2.4",
        "Fig. 3d",
        "Noise and training trajectories become more separable (FPR95 decreases).",
        ("fig3d-fpr95-decreases",),
    ),
    PaperClaim(
        "fig13-rank-grows-with-training",
        "2.4, 2.8",
        "Fig. 13 (right)",
        "Rank-90 of the attractors grows across training.",
        ("fig13-rank90-grows-with-training",),
    ),
    # ---- §2.5 Fig. 4, 7–9, 15, 18 ------------------------------------------------------------
    PaperClaim(
        "fig4-attractors-beat-orthogonal",
        "2.5",
        "Fig. 4b",
        "A dictionary of noise attractors reconstructs test images (OMP) with lower error than "
        "a random orthogonal basis, on all datasets.",
        ("fig4-attractors-beat-orthogonal", "sd-vae-real-weights"),
    ),
    PaperClaim(
        "fig4a-five-percent-atoms",
        "2.5",
        "Fig. 4a, Figs. 7–9",
        "With 5 % of the atoms, attractor reconstructions are recognisable.",
        ("fig4a-five-percent-atoms",),
    ),
    PaperClaim(
        "fig15-sdxl-scales-better",
        "2.5",
        "Fig. 15, App. B.7",
        "On the Stable Diffusion XL autoencoder, attractors scale better than an orthogonal basis.",
        ("sdxl-real-weights",),
    ),
    PaperClaim(
        "fig18-attractors-are-patterns",
        "2.5",
        "Fig. 18, App. B.9",
        "Decoded attractors show geometric and texture patterns, not semantic content.",
        ("fig18-attractors-are-patterns",),
    ),
    # ---- §2.6 Fig. 5, Table 1, Figs. 10, 12 ---------------------------------------------------
    PaperClaim(
        "fig5a-trajectory-beats-knn",
        "2.6",
        "Fig. 5a",
        "The trajectory score detects OOD inputs (AUROC 91–93 %, FPR95 26–30 % on ViT-MAE) "
        "and beats KNN (K = 2000).",
        (
            "fig5a-trajectory-beats-knn",
            "fig5-trajectory-beats-knn",
            "sec42-trajectory-score-detects-ood",
            "vit-mae-real-weights",
        ),
    ),
    PaperClaim(
        "tab1-trajectory-beats-mahalanobis-and-reconstruction",
        "2.6",
        "Table 1, App. B.3",
        "Trajectory statistics are more discriminative than Mahalanobis distance and "
        "reconstruction error.",
        (
            "tab1-trajectory-beats-mahalanobis-and-reconstruction",
            "table1-trajectory-beats-mahalanobis-and-reconstruction",
        ),
    ),
    PaperClaim(
        "fig12-trajectories-contractive",
        "2.6",
        "Fig. 12",
        "Latent trajectories of masked autoencoders are contractive: residual norms shrink.",
        ("fig12-trajectories-contractive",),
    ),
    # ---- §2.7 Fig. 11 -----------------------------------------------------------------------
    PaperClaim(
        "fig11-convergence-estimate",
        "2.7",
        "Fig. 11, App. B.4",
        "Steps to converge correlate with the bound log(ε/‖e₀‖)/log(‖J_f(z*)‖σ); far from "
        "attractors higher-order terms dominate.",
        ("fig11-convergence-estimate", "fig11-higher-order-far-away"),
    ),
    # ---- §2.9 beyond autoencoders -------------------------------------------------------------
    PaperClaim(
        "fig16-ssl-contractive",
        "2.9",
        "Fig. 16, App. B.8.1",
        "SSL encoders with representation-autoencoder decoders iterate contractively: residuals "
        "fall and stabilize, norms stay bounded.",
        ("fig16-encoder-decoder-contractive", "b8-real-weights"),
    ),
    PaperClaim(
        "fig17-llm-contractive",
        "2.9",
        "Fig. 17, App. B.8.2",
        "Iterating an LLM's residual stream is contractive and does not diverge.",
        ("fig17-llm-residual-stream-contractive", "b8-real-weights"),
    ),
    # ---- §2.10 App. C ---------------------------------------------------------------------------
    PaperClaim(
        "appC-jacobian-bound",
        "2.10",
        "App. C",
        "‖J(x)‖₂ ≤ Π_ℓ ‖W_ℓ‖₂ for 1-Lipschitz activations.",
        ("appC-jacobian-bound",),
    ),
    PaperClaim(
        "appC-weight-decay-contracts",
        "2.10",
        "App. C",
        "Weight decay keeps Π_ℓ ‖W_ℓ‖₂ small; below 1 the map contracts.",
        ("appC-weight-decay-contracts",),
    ),
    PaperClaim(
        "tab3-objectives-contract",
        "2.10",
        "Table 3",
        "Each autoencoder family (DAE, SAE, VAE, contractive AE, top-k SAE …) enforces local "
        "contraction through its objective.",
        untested="The book has no copy of the table's content; chapter 1 tests "
        "the denoising case (claim sec2-regularization-contracts).",
    ),
)


def claim_of_record(record_id: str) -> list[PaperClaim]:
    """The paper claims a chapter record with this id tests (empty when none)."""
    return [c for c in CLAIMS if record_id in c.tested_by]
