"""``python -m quantize``: INT8 fusion model (ONNX + TFLite) and INT8 text encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from export.tool_errors import one_line_errors

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, rich_markup_mode=None)


VerboseOption = Annotated[
    bool, typer.Option(help="Show the warnings and progress of torch, torchao and LiteRT.")
]


def _paths(value: str | None) -> list[Path]:
    return [Path(p) for p in (value or "").split(",") if p.strip()]


def _actors(value: str) -> list[int]:
    try:
        return [int(a) for a in value.split(",") if a.strip()]
    except ValueError as exc:
        raise typer.BadParameter("comma-separated actor numbers, e.g. 1,2,3,4") from exc


@app.command()
def fusion(
    model_dir: Annotated[Path, typer.Argument(help="Model directory (edgemood train --out).")],
    data: Annotated[Path, typer.Option(help="RAVDESS folder for calibration and parity.")],
    cache: Annotated[Path | None, typer.Option(help="Feature cache (as for train).")] = None,
    test_actors: Annotated[
        str, typer.Option(help="Parity is measured on these actors; calibration never sees them.")
    ] = "1,2,3,4",
    calibration_clips: Annotated[int, typer.Option(help="At most this many.")] = 1000,
    all_layers: Annotated[
        bool,
        typer.Option(help="Quantize the per-frame encoders and the output layer too."),
    ] = False,
    tflite: Annotated[bool, typer.Option(help="Also write FP32 and INT8 TFLite.")] = True,
    held_out_evidence: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            help="fusion.int8.onnx.json of the same method on a model trained without its test "
            "actors (repeatable): lets a model trained on every actor default to INT8."
        ),
    ] = None,
    faces: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Face pools (POOL[,POOL]) whose train split calibrates a model with a face "
            "branch, paired with voices as in its training (required for such a model)."
        ),
    ] = None,
    held_out_faces: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Face pools (POOL[,POOL]) the face branch never trained on: parity on faces "
            "alone and on test voices paired with them (required for a model with a face branch)."
        ),
    ] = None,
    texts: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Text pool (edgemood.train.pools, encoded by the model's text encoder): its train "
            "split calibrates a model with a text branch, its test split judges parity (required "
            "for such a model)."
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Static INT8 ONNX and INT8 TFLite of the fusion model, with parity reports."""
    actors = _actors(test_actors)  # before the slow imports: a typo fails at once
    from edgemood.model import read_card
    from export.quiet import third_party_output
    from quantize.fusion import quantize_fusion

    with one_line_errors("quantize"), third_party_output(verbose, "python -m quantize"):
        reports = quantize_fusion(
            model_dir,
            data,
            cache,
            actors,
            calibration_clips,
            all_layers=all_layers,
            tflite=tflite,
            evidence=held_out_evidence or [],
            faces=_paths(faces),
            held_out_faces=_paths(held_out_faces),
            texts=texts,
        )
    for r in reports:
        p = r["parity"]
        typer.echo(
            f"{r['model']}: {r['size_bytes']:,} bytes (FP32 {r['fp32_size_bytes']:,}); "
            f"agreement {p['agreement']:.2%} on {p['clips']} clips of actors "
            f"{p['test']['actors']}, accuracy {p['accuracy_fp32']:.3f} -> {p['accuracy_int8']:.3f}"
            f"; parity {'holds' if p['holds'] else 'FAILS'}"
        )
        for name, c in p["conditions"].items():
            if name != "voices":
                typer.echo(
                    f"  {name}: agreement {c['agreement']:.2%} on {c['clips']}, accuracy "
                    f"{c['accuracy_fp32']:.3f} -> {c['accuracy_int8']:.3f}"
                    f"; {'holds' if c['holds'] else 'FAILS'}"
                )
    # Notes printed while third-party output was held back, again where the user sees them.
    for note in (reports[0].get("faces") or {}).get("notes", []):
        typer.echo(f"quantize: note: {note}", err=True)
    card = read_card(model_dir)
    if (faces or held_out_faces) and not card["trained"]["visual"]:
        typer.echo("quantize: the model has no face branch: face pools ignored", err=True)
    typer.echo(f"default: {card['default']} ({card.get('default_reason', '')})")


@app.command()
def text(
    encoder_dir: Annotated[Path, typer.Argument(help="Encoder directory (python -m export text).")],
    verbose: VerboseOption = False,
) -> None:
    """INT8 of the text encoder (weights; quantize/text_encoder.py), checked against its size
    budget."""
    from benchmarks.check_size import check_file
    from export.quiet import third_party_output
    from quantize.text_encoder import TEXT_INT8, quantize_text_encoder

    with one_line_errors("quantize"), third_party_output(verbose, "python -m quantize"):
        report = quantize_text_encoder(encoder_dir)
    p = report["parity"]
    typer.echo(
        f"{report['model']}: {report['size_bytes']:,} bytes (FP32 {report['fp32_size_bytes']:,});"
        f" cosine to FP32 min {p['min_cosine']:.4f} over {p['sentences']} sentences"
    )
    problem = check_file("text_encoder_int8", encoder_dir / TEXT_INT8)
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
