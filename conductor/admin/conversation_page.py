"""The sections of a conversation's page below its settings and triggers:
the working version's threads and steps, then one diagram (the working
version's, or the published one's with its counts), then the report
(``conductor.report_charts``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from conductor.admin.counts import step_counts
from conductor.admin.step_lists import step_list
from conductor.diagram import step_label, thread_step_rows, version_diagram
from conductor.models import Conversation, EnrollmentState, Step, Thread
from conductor.steps.registry import all_units
from conductor.version_changes import changes_line
from conductor.versions import published_version, working_version

NO_TRIGGER = "No trigger: nobody will enter it. Add one under Triggers."
#: What ``?diagram=`` may ask for; the working version's is the default.
DIAGRAMS = ("working", "published")
#: How many changes the line under the diagram names before "and N more".


def step_url(step: Step) -> str:
    return reverse("admin:conductor_step_change", args=[step.pk])


def thread_url(thread: Thread) -> str:
    return reverse("admin:conductor_thread_change", args=[thread.pk])


def held_enrollments_url(step: Step) -> str:
    return (
        reverse("admin:conductor_enrollment_changelist")
        + f"?step__id__exact={step.pk}&state__exact={EnrollmentState.HELD}"
    )


def add_step_links(thread_id: int) -> SafeString:
    url = reverse("admin:conductor_step_add")
    return format_html_join(
        " ",
        '<a class="button add-step" href="{}?thread={}&kind={}">+ {}</a>',
        ((url, thread_id, unit.kind, unit.label) for unit in all_units()),
    )


# --- Threads and steps --------------------------------------------------------


def threads_section(conversation: Conversation, *, can_change: bool) -> SafeString:
    """The working version's threads, each with its steps (each a link to
    its page) and, for who may change it, the buttons adding a step."""
    version = working_version(conversation)
    blocks = []
    for thread, steps in thread_step_rows(version):
        where = SafeString("")
        if thread.parent_step_id:
            assert thread.parent_step is not None  # its id is set
            where = format_html(
                ' <span class="thread-where">— child of {} on {}</span>',
                step_label(thread.parent_step),
                thread.get_child_event_display(),
            )
        tools = SafeString("")
        if can_change:
            tools = format_html(
                '<p class="add-steps">Add at the end: {} <a href="{}">Remove steps</a></p>',
                add_step_links(thread.pk),
                thread_url(thread),
            )
        blocks.append(
            format_html(
                '<div class="conductor-thread" data-thread="{}"><h3><a href="{}">{}</a>{}</h3>'
                "{}{}</div>",
                thread.pk,
                thread_url(thread),
                thread.name,
                where,
                step_list(thread, steps, may_move=can_change) if steps else _NO_STEPS,
                tools,
            )
        )
    child = SafeString("")
    if can_change:
        child = format_html(
            '<p><a class="button" href="{}?version={}">+ Child thread (off a Wait step)</a></p>',
            reverse("admin:conductor_thread_add"),
            version.pk,
        )
    return format_html(
        '<div class="conductor-threads"><p class="help">Working version {}: edit it here, '
        "then publish it to let new contacts in on it.</p>{}{}</div>",
        version.number,
        SafeString("".join(blocks)),
        child,
    )


_NO_STEPS = SafeString('<p class="help">No steps yet.</p>')


# --- The diagram ----------------------------------------------------------------


def diagram_section(conversation: Conversation, shown: str) -> SafeString:
    """One diagram: ``shown`` is "working" (the default) or "published" (its
    latest published version, with per-step counts); a link shows the other,
    and a line says whether the two differ."""
    working = working_version(conversation)
    published = published_version(conversation)
    if published is None or shown != "published":
        diagram = version_diagram(working, step_url=step_url, thread_url=thread_url)
        title = format_html("Working version {}", working.number)
        other = (
            format_html(
                '<a class="diagram-switch" href="?diagram=published#diagram">Show published '
                "version {} with the contacts at each step</a>",
                published.number,
            )
            if published
            else SafeString("")
        )
    else:
        diagram = version_diagram(
            published,
            counts=step_counts(conversation),
            step_url=step_url,
            thread_url=thread_url,
            held_url=held_enrollments_url,
        )
        title = format_html(
            "Published version {}, published {} UTC, with the contacts at each step",
            published.number,
            f"{published.published_at:%Y-%m-%d %H:%M}",
        )
        other = format_html(
            '<a class="diagram-switch" href="?diagram=working#diagram">Show the working '
            "version {}</a>",
            working.number,
        )
    return format_html(
        '<div class="diagram-head"><p class="diagram-title"><strong>{}</strong> {}</p>'
        '<p class="diagram-changes">{}</p></div>{}<p class="help diagram-legend">{}</p>{}',
        title,
        other,
        changes_line(working, published),
        diagram,
        LEGEND,
        published_step_counts(conversation),
    )


LEGEND = SafeString(
    "Click a box to open its step. Grey arrows lead to the next step; "
    '<span style="color:#b45309">amber arrows</span> are Go To jumps; '
    '<span style="color:#7c3aed">dashed purple arrows</span> start a child thread.'
)


def published_step_counts(conversation: Conversation) -> SafeString:
    """Waiting, held and passed per step of every published version: older
    versions keep the contacts who entered them."""
    counts = step_counts(conversation)
    steps = (
        Step.objects.filter(version__conversation=conversation, version__published_at__isnull=False)
        .select_related("thread", "version")
        .order_by("-version__number", "thread__is_main", "thread_id", "position")
    )
    rows = []
    for step in steps:
        waiting, held, passed = counts.get(step.pk, (0, 0, 0))
        held_cell = (
            format_html('<a href="{}">{}</a>', held_enrollments_url(step), held) if held else "0"
        )
        rows.append(
            format_html(
                '<tr data-step="{}"><td>v{}</td><td><a href="{}">{}</a></td><td>{}</td>'
                '<td class="waiting">{}</td><td class="held">{}</td>'
                '<td class="passed">{}</td></tr>',
                step.pk,
                step.version.number,
                step_url(step),
                step_label(step),
                step.get_kind_display(),
                waiting,
                held_cell,
                passed,
            )
        )
    if not rows:
        return SafeString("")
    return format_html(
        '<div class="field-published_step_counts"><h3>Where contacts are, per published '
        'version</h3><table class="conductor-counts"><thead><tr><th>Version</th><th>Step</th>'
        "<th>Kind</th><th>Waiting</th><th>Held</th><th>Passed</th></tr></thead>"
        "<tbody>{}</tbody></table></div>",
        SafeString("".join(rows)),
    )
