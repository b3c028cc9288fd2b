"""Visitors' drawings on the page: the Draw tab's label row (Right / It was: 0-9, undo, delete), the
`save_drawing` API, and the Compare tab's live measure of every model on what visitors drew.

The logic is the `Collection` methods (pure: tests call them without a server); `label_row` and
`compare_section` build the components.
"""
import html
import io
import os
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pandas as pd
from PIL import Image

from mnist_models import __version__, to_mnist
from mnist_models.predict import SETS
from mnist_models.visitors import SaveRefused, Tally, argmax, export, new_record, parse_label, wilson
from tabs.compare import confusion_html

KEPT = ("Saving keeps the drawing, what the models saw and answered, your label, the time and mouse/touch/pen; "
        "no IP address, no account.")
GALLERY = 24   # the latest visitor drawings the default answer got wrong, shown in the Compare tab


def lowest_priority():
    """Make the calling thread run only when a CPU would otherwise idle (Linux SCHED_IDLE, else niceness 19):
    any thread answering a drawing preempts it the moment it wakes. Lowering a priority needs no privileges."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))   # Linux: 0 is this thread, not the process
    except (AttributeError, OSError):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 19)
        except (AttributeError, OSError):
            pass  # no way to lower it here: saves then share the CPU as equals


class Collection:
    """The page's side of the database: re-checks everything the page or an API client sends, then saves."""

    def __init__(self, drawings, sets, read_drawing, background=True):
        self.drawings, self.sets = drawings, sets
        self.read_drawing = read_drawing   # sketch value / file path -> image (ValueError saying why) or None
        self.default = f"{sets.default}/ensemble"
        self.tally = Tally(drawings, self.default)   # the Compare tab's figures, read on from where it left off
        # The page's saves run in one thread of their own at the lowest CPU priority: a flood of saves waits for
        # the answers instead of slowing them (benchmarks/bench_visitors.py measures both ways). Never given back
        # to a pool: a thread cannot raise its own priority again without privileges. background=False: each
        # save in its caller's thread, an equal of the answers (the naive way, measured beside).
        self.background = background and ThreadPoolExecutor(1, thread_name_prefix="visitor-saves",
                                                            initializer=lowest_priority)

    def save_in_background(self, *args):
        """`save`, in the lowest-priority thread; the caller waits for its (id, count) or SaveRefused."""
        return self.background.submit(self.save, *args).result() if self.background else self.save(*args)

    def answers(self, x):
        """(28, 28) -> every model's probabilities and weights sha256, both sets."""
        out = {}
        for kind, probs in self.sets.predict_mnist(x, side_by_side=not self.background).items():
            predictor = self.sets[kind]
            out[kind] = {name: {"probabilities": [round(float(v), 5) for v in p],
                                "sha256": predictor.metadata[name]["weights_sha256"]} for name, p in probs.items()
                         if name != "ensemble"}
            out[kind]["ensemble"] = {"probabilities": [round(float(v), 5) for v in probs["ensemble"]],
                                     "members": list(predictor.ensemble)}
        return out

    def save(self, drawing, label, pointer, session):
        """A drawing (sketch value or image file) and its label -> (id, count); SaveRefused saying why."""
        label = parse_label(label)               # the cheap checks first: a bad label never decodes an image
        try:
            image = self.read_drawing(drawing)
        except ValueError as e:
            raise SaveRefused(str(e)) from None
        x = None if image is None else to_mnist(image)  # again here: never the page's word for it
        if x is None:
            raise SaveRefused("the drawing is blank: draw a digit first")
        record = new_record(x, image, label, pointer, self.answers(x), __version__, session)
        return self.drawings.save(record)

    # ------------------------------------------------------------ the page's events
    def label(self, digit):
        """The event of the "It was: digit" button (digit None: "Right", the answer shown)."""
        def handler(sketch, pointer, session, shown):
            session = session or uuid.uuid4().hex
            given = shown if digit is None else digit
            if given is None:
                return "Draw a digit first.", session
            try:
                _, count = self.save_in_background(sketch, given, pointer, session)
            except SaveRefused as e:
                return f"⚠️ Not saved: {e}.", session
            return f"✅ Saved as **{given}**: thank you. Labelled drawings so far: {count:,}.", session
        return handler

    def undo(self, session):
        try:
            n = self.drawings.undo_last(session) if session else 0
        except SaveRefused as e:
            return f"⚠️ Nothing deleted: {e}."
        return "Deleted your last saved drawing." if n else "Nothing of yours to undo in this session."

    def forget(self, session):
        try:
            n = self.drawings.delete_session(session) if session else 0
        except SaveRefused as e:
            return f"⚠️ Nothing deleted: {e}."
        return f"Deleted the {n} drawing(s) you saved in this session." if n else "You saved nothing in this session."

    def api_save(self, image, label, request: gr.Request):
        """API `save_drawing`: image file + label (0-9) -> {"saved": id, "count": N}, or an error saying why."""
        try:
            saved, count = self.save_in_background(image, label, "api", f"api-{getattr(request, 'session_hash', None) or 'none'}")
        except SaveRefused as e:
            raise gr.Error(f"not saved: {e}") from None
        return {"saved": saved, "count": count}

    # ------------------------------------------------------------ the Compare tab's section
    def measured(self):
        """-> (summary markdown, accuracy table, confusion HTML, gallery of the default answer's mistakes)."""
        try:
            m = self.tally()
            gallery = self.latest_mistakes(m)
        except SaveRefused as e:
            return f"⚠️ {e}.", pd.DataFrame(), "", []
        if not m.count:
            return ("No labelled drawings yet: draw one in the Draw tab and say what it was.", pd.DataFrame(), "", [])
        table = []
        for name, (k, n) in m.correct.items():
            kind, model = name.split("/", 1)
            low, high = wilson(k, n)
            table.append((model, SETS.get(kind, kind), k, n, round(100 * k / n, 2),
                          f"{100 * low:.1f} – {100 * high:.1f}"))
        table = pd.DataFrame(table, columns=["model", "trained on", "right", "of", "accuracy %", "95 % interval"])
        table = table.sort_values(["accuracy %", "model"], ascending=[False, True])
        k, n = m.correct.get(self.default, (0, 0))
        summary = (f"**{m.count:,} labelled drawing{'s' * (m.count != 1)}** by visitors ({', '.join(f'{p} {c:,}' for p, c in m.by_pointer.most_common())}). "
                   f"The default answer was right for **{k:,}** of them ({100 * k / max(1, n):.1f} %).")
        return summary, table, confusion_html(m.confusion, f"the default answer ({html.escape(self.default)})"), gallery

    def latest_mistakes(self, m):
        """Measured -> [(image, caption)] of the newest drawings the default answer got wrong, at most GALLERY."""
        kind, name = self.default.split("/")
        return [(Image.open(io.BytesIO(row["drawing"])),
                 f"drawn {row['label']}, answered {argmax(row['answers'][kind][name]['probabilities'])} ({row['created']})")
                for row in self.drawings.rows(newest_first=True, ids=m.mistakes[-GALLERY:])]

    def export_file(self):
        out = tempfile.NamedTemporaryFile(prefix="visitor-drawings-", suffix=".jsonl.gz", delete=False).name
        export(self.drawings, out)
        return out


CSS = """
/* The sketchpad's floating tool palette covered the paper's left 16 px, and a stroke started under it was
   lost. The page needs none of its tools (the brush is chosen by the page's script, colour and size are
   fixed; undo and clear stay in the top bar), so it goes. */
#sketch .toolbar-wrap { display: none !important; }
#label-digits { gap: 4px; flex-wrap: nowrap; }
#label-digits button { min-width: 0; padding: 4px 0; flex: 1 1 0; }
#label-digits #label-right { flex: 0 0 auto; padding: 4px 10px; white-space: nowrap; }
#label-was { flex: 0 0 auto !important; min-width: 0 !important; width: max-content !important; align-self: center; white-space: nowrap;
             padding: 0 2px; }
#label-row { gap: 4px; }
#label-row .kept { font-size: 0.8em; opacity: 0.75; }
#label-row .kept p { margin: 0; }
"""

# Which kind of pointer drew: the page tells the label buttons (mouse, touch or pen; nothing else is read).
POINTER_JS = """
() => {
  document.addEventListener('pointerdown', (e) => {
    if (e.target.closest && e.target.closest('#sketch')) window.mnistPointer = e.pointerType;
  }, true);
}
"""
WITH_POINTER = "(...args) => { args[1] = window.mnistPointer || 'unknown'; return args; }"


# Saves queue one at a time in their own lane (the one background thread runs them in turn anyway), so that
# waiting saves wait in Gradio's queue, never in the server's threads.
SAVES = dict(concurrency_id="save", concurrency_limit=1)


def label_row(collection, sketch, shown):
    """The Draw tab's label row (hidden until there is an answer); -> the row, to show and hide."""
    session = gr.State(None)     # a random id for this visit's saves: what "undo" and "delete" act on
    pointer = gr.Textbox(visible=False)
    with gr.Column(visible=False, elem_id="label-row") as row:
        with gr.Row(elem_id="label-digits"):
            right = gr.Button("✓ Right", variant="primary", size="sm", elem_id="label-right", min_width=0)
            gr.HTML("It was:", padding=False, elem_id="label-was")
            digits = [gr.Button(str(d), size="sm", elem_id=f"label-{d}", min_width=0) for d in range(10)]
        gr.Markdown(KEPT, elem_classes="kept")
        message = gr.Markdown("", elem_id="label-message")
        with gr.Row():
            undo = gr.Button("Undo my last", size="sm", elem_id="label-undo")
            forget = gr.Button("Delete what I saved in this session", size="sm", elem_id="label-forget")
    for digit, button in [(None, right)] + list(enumerate(digits)):
        button.click(collection.label(digit), [sketch, pointer, session, shown], [message, session], js=WITH_POINTER,
                     api_name=False, show_progress="hidden", **SAVES)
    undo.click(collection.undo, session, message, api_name=False)
    forget.click(collection.forget, session, message, api_name=False)
    return row


def compare_section(collection):
    """The Compare tab's "Visitors' drawings" section; -> (refresh function, its outputs) for the tab's select."""
    gr.Markdown("### Visitors' drawings\nWhat visitors drew here and labelled (Draw tab: Right / It was), and how "
                "often each model's answer at the time was right, with a 95 % interval (Wilson).")
    summary, table, confusion, gallery = collection.measured()
    summary = gr.Markdown(summary, elem_id="visitors-summary")
    table = gr.Dataframe(table, label="Each model on visitors' drawings", interactive=False, elem_id="visitors-table")
    confusion = gr.HTML(confusion, elem_id="visitors-confusion")
    gallery = gr.Gallery(gallery, label="The latest visitor drawings the default answer got wrong", columns=8,
                         height=220, elem_id="visitors-wrong", format="png", preview=False, object_fit="contain",
                         fit_columns=False)
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm", elem_id="visitors-refresh")
        export_all = gr.Button("Export all (JSONL.gz)", size="sm", elem_id="visitors-export")
    exported = gr.File(label="The whole collection", elem_id="visitors-file", interactive=False)
    outputs = [summary, table, confusion, gallery]
    refresh.click(collection.measured, None, outputs, api_name=False)
    export_all.click(collection.export_file, None, exported, api_name=False)
    return collection.measured, outputs
