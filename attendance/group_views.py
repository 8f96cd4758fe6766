"""Staff pages to run groups: create and edit a group, its members, a session on its own, its weekly
timetable, and the holidays of every group. Staff reach only the groups they own, administrators every
group (attendance.selectors.visible_groups); another's group is 404. Views validate a form, call one
write of attendance.groups or attendance.timetables, and answer."""

from django.contrib import messages
from django.forms.models import model_to_dict
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required
from accounts.models import Role
from attendance import groups, selectors, timetables
from attendance.group_forms import GroupForm, HolidayForm, MemberSearchForm, MembersForm, SessionForm, TimetableForm
from attendance.models import Group, Timetable
from attendx.forms import error_status, error_text

GROUP_SETTINGS = ("name", "description", "notify_absent", "notify_late", "rate_alert_below")


def _refuse(request, form) -> int:
    messages.error(request, error_text(form))
    return error_status(form)


def _group(request, group_id) -> Group:
    return get_object_or_404(selectors.visible_groups(request.user).select_related("owner"), pk=group_id)


def _entry(request, entry_id) -> Timetable:
    entry = selectors.visible_timetable_entry(request.user, entry_id)
    if entry is None:
        raise Http404(_("No such timetable entry."))
    return entry


def _is_admin(user) -> bool:
    return user.role == Role.ADMIN


def _group_page(request, form, *, group=None, status=200):
    return render(request, "attendance/group_form.html", {"form": form, "group": group}, status=status)


@staff_required
def group_new(request):
    choose_owner = _is_admin(request.user)
    if request.method != "POST":
        initial = {"owner": request.user.pk} if choose_owner else None
        return _group_page(request, GroupForm(initial=initial, choose_owner=choose_owner))
    form = GroupForm(request.POST, choose_owner=choose_owner)
    if not form.is_valid():
        return _group_page(request, form, status=_refuse(request, form))
    data = form.cleaned_data
    try:
        group = groups.create_group(
            owner=data.get("owner") or request.user, **{name: data[name] for name in GROUP_SETTINGS}
        )
    except groups.GroupNameTaken as taken:
        form.add_error("name", taken.message)
        return _group_page(request, form, status=_refuse(request, form))
    messages.success(request, _("Group %(name)s created: add its members next.") % {"name": group.name})
    return redirect("attendance:group-members", group_id=group.pk)


@staff_required
def group_edit(request, group_id):
    group = _group(request, group_id)
    choose_owner = _is_admin(request.user)
    if request.method != "POST":
        initial = {**model_to_dict(group, fields=GROUP_SETTINGS), "owner": group.owner_id}
        return _group_page(request, GroupForm(initial=initial, choose_owner=choose_owner), group=group)
    form = GroupForm(request.POST, choose_owner=choose_owner)
    if not form.is_valid():
        return _group_page(request, form, group=group, status=_refuse(request, form))
    data = form.cleaned_data
    try:
        groups.update_group(group=group, owner=data.get("owner"), **{name: data[name] for name in GROUP_SETTINGS})
    except groups.GroupNameTaken as taken:
        form.add_error("name", taken.message)
        return _group_page(request, form, group=_group(request, group_id), status=_refuse(request, form))
    messages.success(request, _("Group %(name)s saved.") % {"name": group.name})
    return redirect("attendance:group", group_id=group.pk)


@staff_required
def group_members(request, group_id):
    group = _group(request, group_id)
    status = 200
    if request.method == "POST":
        form = MembersForm(request.POST, group=group)
        if form.is_valid():
            people = list(form.cleaned_data["people"])
            if form.cleaned_data["action"] == "add":
                count = groups.add_members(group=group, people=people)
                text = ngettext("%(count)d person added.", "%(count)d people added.", count)
            else:
                count = groups.remove_members(group=group, people=people)
                text = ngettext("%(count)d person removed.", "%(count)d people removed.", count)
            messages.success(request, text % {"count": count})
            return redirect("attendance:group-members", group_id=group.pk)
        status = _refuse(request, form)
    search = MemberSearchForm(request.GET)
    if not search.is_valid():
        status = _refuse(request, search)
    query = search.cleaned_data.get("q", "")
    context = {
        "group": group,
        "members": selectors.members_of(group),
        "choices": groups.member_choices(group=group, query=query),
        "query": query,
        "shown": groups.MEMBER_CHOICES_SHOWN,
    }
    return render(request, "attendance/group_members.html", context, status=status)


@staff_required
def session_new(request, group_id):
    group = _group(request, group_id)
    if request.method != "POST":
        return render(request, "attendance/session_form.html", {"group": group, "form": SessionForm()})
    form = SessionForm(request.POST)
    if not form.is_valid():
        status = _refuse(request, form)
        return render(request, "attendance/session_form.html", {"group": group, "form": form}, status=status)
    session = groups.schedule_session(group=group, **form.cleaned_data)
    messages.success(request, _("Session %(title)s scheduled.") % {"title": session.title})
    return redirect("attendance:session", session_id=session.pk)


def _timetable_page(request, group, form, *, entry=None, status=200):
    context = {
        "group": group,
        "form": form,
        "entry": entry,
        "entries": selectors.timetable_entries(group),
        "upcoming": timetables.upcoming_sessions(group=group),
        "holidays": selectors.holidays(since=timezone.localdate()),
        "until": timetables.horizon(),
    }
    return render(request, "attendance/timetable.html", context, status=status)


def _saved_message(request, saved: timetables.TimetableSaved) -> None:
    made, removed = saved.sessions.created, saved.sessions.removed
    text = ngettext(
        "Timetable saved: %(made)d new session up to %(until)s.",
        "Timetable saved: %(made)d new sessions up to %(until)s.",
        made,
    ) % {"made": made, "until": formats.date_format(saved.until)}
    if removed:
        text += " " + ngettext(
            "%(removed)d session that no longer fits was removed.",
            "%(removed)d sessions that no longer fit were removed.",
            removed,
        ) % {"removed": removed}
    messages.success(request, text)


@staff_required
def timetable(request, group_id):
    group = _group(request, group_id)
    if request.method != "POST":
        return _timetable_page(request, group, TimetableForm())
    form = TimetableForm(request.POST)
    if not form.is_valid():
        return _timetable_page(request, group, form, status=_refuse(request, form))
    _saved_message(request, timetables.create_timetable(group=group, by=request.user, **form.cleaned_data))
    return redirect("attendance:group-timetable", group_id=group.pk)


@staff_required
def timetable_edit(request, entry_id):
    entry = _entry(request, entry_id)
    if request.method != "POST":
        form = TimetableForm(initial=model_to_dict(entry, fields=timetables.TIMETABLE_FIELDS))
        return _timetable_page(request, entry.group, form, entry=entry)
    form = TimetableForm(request.POST)
    if not form.is_valid():
        return _timetable_page(request, entry.group, form, entry=entry, status=_refuse(request, form))
    _saved_message(request, timetables.update_timetable(timetable=entry, **form.cleaned_data))
    return redirect("attendance:group-timetable", group_id=entry.group_id)


@require_POST
@staff_required
def timetable_delete(request, entry_id):
    entry = _entry(request, entry_id)
    removed = timetables.delete_timetable(timetable=entry)
    text = ngettext(
        "Timetable entry deleted with %(count)d future session; sessions with records were kept.",
        "Timetable entry deleted with %(count)d future sessions; sessions with records were kept.",
        removed,
    )
    messages.success(request, text % {"count": removed})
    return redirect("attendance:group-timetable", group_id=entry.group_id)


def _holidays_page(request, form, *, status=200):
    context = {"form": form, "holidays": selectors.holidays(), "today": timezone.localdate()}
    return render(request, "attendance/holidays.html", context, status=status)


@staff_required
def holidays(request):
    if request.method != "POST":
        return _holidays_page(request, HolidayForm())
    form = HolidayForm(request.POST)
    if not form.is_valid():
        return _holidays_page(request, form, status=_refuse(request, form))
    holiday, generated = timetables.add_holiday(**form.cleaned_data)
    text = ngettext(
        "Holiday %(name)s added: %(count)d timetabled session on its days was removed.",
        "Holiday %(name)s added: %(count)d timetabled sessions on its days were removed.",
        generated.removed,
    )
    messages.success(request, text % {"name": holiday.name, "count": generated.removed})
    return redirect("attendance:holidays")


@require_POST
@staff_required
def holiday_delete(request, holiday_id):
    holiday = get_object_or_404(selectors.holidays(), pk=holiday_id)
    generated = timetables.delete_holiday(holiday=holiday)
    text = ngettext(
        "Holiday %(name)s deleted: %(count)d timetabled session was scheduled again.",
        "Holiday %(name)s deleted: %(count)d timetabled sessions were scheduled again.",
        generated.created,
    )
    messages.success(request, text % {"name": holiday.name, "count": generated.created})
    return redirect("attendance:holidays")
