"""Staff pages: the campaign dashboard (live), campaigns and the figures' exports."""
from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from portal.audit import record
from portal.clock import today_in_montreal
from portal.extensions import db
from portal.i18n import current_language
from portal.models import Campaign
from portal.reference import REGIONS
from portal.staff import bp
from portal.staff.forms import CampaignForm, DashboardFilterForm
from portal.tracking.dashboard import (
    campaigns,
    chosen_campaign,
    csv_lines,
    event_rows,
    figure_rows,
    figures_for,
    recount_season,
    refresh_figures,
    save_campaign,
)
from portal.tracking.stats import FilterError, Filters

FILTER_MESSAGES = {
    "outside_campaign": lambda: _("Choose dates within the campaign's season."),
    "start_after_end": lambda: _("The first date must come before the last."),
    "unknown_region": lambda: _("Choose a region from the list."),
    "unknown_kit": lambda: _("Choose a kit from the list."),
    "invalid": lambda: _("Some filters were not understood; the whole campaign is shown."),
}


def dashboard_state():
    """The campaign, the filter form and the filters asked for (or an error message)."""
    raw_campaign = request.args.get("campaign", "")
    campaign_id = int(raw_campaign) if raw_campaign.isdigit() and len(raw_campaign) < 10 else None
    campaign = chosen_campaign(campaign_id)
    if campaign is None:
        abort(404)
    kits = list(campaign.kits)
    form = DashboardFilterForm(formdata=request.args)
    form.campaign.choices = [(c.id, str(c.year)) for c in campaigns()]
    form.region.choices = [("", _("All regions"))] + [(code, f"{code} {name}")
                                                      for code, name in REGIONS.items()]
    form.kit.choices = [("", _("All kits"))] + [(k.id, k.title(current_language()))
                                                for k in kits]
    form.campaign.data = campaign.id
    error = None if form.validate() else "invalid"
    filters = Filters.for_campaign(campaign)
    if error is None:
        try:
            filters = Filters.for_campaign(campaign, form.start.data, form.end.data,
                                           form.region.data or None, form.kit.data)
        except FilterError as exc:
            error = str(exc)
    return campaign, form, filters, error


@bp.get("/dashboard")
def dashboard():
    refresh_figures()
    campaign, form, filters, error = dashboard_state()
    if error:
        flash(FILTER_MESSAGES[error](), "error")
    figures = figures_for(campaign, filters)
    return render_template("staff/dashboard.html", form=form, figures=figures,
                           campaign=campaign, regions=REGIONS, today=today_in_montreal(),
                           query=request.query_string.decode("utf-8", "replace")), \
        400 if error else 200


@bp.get("/dashboard/live")
def dashboard_live():
    """The live part of the dashboard, fetched every few seconds by dashboard.js."""
    refresh_figures()
    campaign, form, filters, error = dashboard_state()
    figures = figures_for(campaign, filters)
    return render_template("staff/_live.html", figures=figures, campaign=campaign,
                           today=today_in_montreal())


@bp.get("/exports/figures.csv")
def export_figures():
    refresh_figures()
    campaign, form, filters, error = dashboard_state()
    if error:
        abort(400)
    figures = figures_for(campaign, filters)
    name = f"figures-{campaign.year}-{filters.start}-{filters.end}.csv"
    # A few hundred rows: made before the audit entry's commit expires what they read.
    rows = list(figure_rows(figures, current_language()))
    record("figures_exported", f"campaign:{campaign.year}",
           request.query_string.decode("utf-8", "replace"))
    return Response(stream_with_context(csv_lines(rows)),
                    mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/exports/events.csv")
def export_events():
    campaign, form, filters, error = dashboard_state()
    record("events_exported", f"campaign:{campaign.year}")
    db.session.refresh(campaign)  # read again after the audit entry's commit
    name = f"download-events-{campaign.year}.csv"
    return Response(stream_with_context(csv_lines(event_rows(campaign))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _store_campaign(form, campaign: Campaign, message: str):
    """Save a validated campaign form; a redirect, or ``None`` with the error on the form."""
    created = campaign.id is None
    season = (campaign.opens_on, campaign.closes_on)
    save_campaign(form, campaign)
    db.session.add(campaign)
    recount = not created and season != (campaign.opens_on, campaign.closes_on)
    if recount:  # downloads outside the old season were never counted: count again
        recount_season()
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        form.year.errors.append(_("A campaign already exists for this year."))
        return None
    record("campaign_created" if created else "campaign_edited", f"campaign:{campaign.year}",
           f"season {campaign.opens_on}..{campaign.closes_on}, "
           f"week {campaign.starts_on}..{campaign.ends_on}, targets {campaign.target_kits}/"
           f"{campaign.target_organizations}, ordering "
           f"{'open' if campaign.ordering_open else 'closed'}")
    flash(message % {"year": campaign.year}, "success")
    if recount:
        flash(_("The season changed: its figures are being counted again from the downloads "
                "and fill in over the next minutes."), "success")
    return redirect(url_for("staff.campaign_list"))


@bp.route("/campaigns", methods=["GET", "POST"])
def campaign_list():
    form = CampaignForm()
    if form.validate_on_submit():
        done = _store_campaign(form, Campaign(), _("Campaign %(year)d created."))
        if done is not None:
            return done
    return render_template("staff/campaigns.html", campaigns=campaigns(), form=form), \
        400 if form.errors else 200


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
def campaign_edit(campaign_id):
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    form = CampaignForm(obj=campaign)
    if request.method == "GET":
        for target in campaign.region_targets:
            getattr(form, f"region_{target.region}").data = target.target_kits
        form.ordering_closed.data = not campaign.ordering_open
    if form.validate_on_submit():
        done = _store_campaign(form, campaign, _("Campaign %(year)d saved."))
        if done is not None:
            return done
    return render_template("staff/campaign_edit.html", campaign=campaign, form=form,
                           kit_count=len(campaign.kits)), 400 if form.errors else 200
