"""``python -m export``: FP32 ONNX/TFLite of a fusion model, ONNX of a text encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from export.tool_errors import one_line_errors

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, rich_markup_mode=None)
VerboseOption = Annotated[
    bool, typer.Option(help="Show the warnings and progress of torch, Optimum and LiteRT.")
]


@app.command()
def fusion(
    model_dir: Annotated[Path, typer.Argument(help="Model directory (edgemood train --out).")],
    tflite: Annotated[bool, typer.Option(help="Also write FP32 TFLite.")] = True,
    verbose: VerboseOption = False,
) -> None:
    """Write fusion.onnx and fusion.tflite into MODEL_DIR and list them in its card."""
    from edgemood.model import read_card
    from export.quiet import third_party_output

    with one_line_errors("export"):
        read_card(model_dir)  # a wrong directory fails before the slow imports below
        from export.fusion import export_fusion

        with third_party_output(verbose, "python -m export"):
            written = export_fusion(model_dir, tflite=tflite)
    for key, path in written.items():
        typer.echo(f"{key}: {path} ({path.stat().st_size:,} bytes)")


@app.command()
def text(
    source: Annotated[str, typer.Argument(help="Hub name (distilbert-base-uncased) or local dir.")],
    out: Annotated[Path, typer.Argument(help="Encoder directory to write.")],
    verbose: VerboseOption = False,
) -> None:
    """Export DistilBERT to an edgemood text encoder directory (ONNX + tokenizer.json)."""
    from edgemood.train.text_export import export_text_encoder
    from export.quiet import third_party_output

    with one_line_errors("export"), third_party_output(verbose, "python -m export"):
        directory = export_text_encoder(source, out)
    model = directory / "model.onnx"
    typer.echo(f"text encoder: {directory} ({model.stat().st_size:,} bytes)")


if __name__ == "__main__":
    app()
