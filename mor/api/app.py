"""The ASGI application: the FHIR API at /fhir and a small landing page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

import mor
from mor.api import heap
from mor.api.http_auth import BearerAuthentication, SmartEndpoints
from mor.api.http_fhir import FhirEndpoint
from mor.api.rate_limits import RateLimits
from mor.api.security_headers import SecurityHeaders
from mor.auth.accounts import Accounts
from mor.auth.break_glass import BreakGlass
from mor.auth.expired_records import purge_forever
from mor.auth.sessions import Sessions
from mor.auth.smart_server import SmartServer
from mor.auth.totp import TotpSecrets
from mor.config import Settings
from mor.db.engine import create_engine
from mor.fhir.store import Store
from mor.services.bulk_export import BulkExport
from mor.services.bulk_import import BulkImport
from mor.services.identity_checks import IdentityChecks
from mor.services.messaging import senders
from mor.services.monitoring.due import send_due_reminders
from mor.services.monitoring.watcher import watch_forever
from mor.services.prescribing.formulary import seed as seed_formulary
from mor.services.registration import Registrations
from mor.services.scheduling.reminders import Reminders
from mor.services.scheduling.slots import keep_ahead_forever
from mor.services.video.consults import close_left_over_forever
from mor.services.video.signalling import relay_for
from mor.web.admin_centres import CentreAdminPages
from mor.web.booking import BookingPages
from mor.web.dates import default_era, long_day
from mor.web.day_list import DayListPages
from mor.web.documents import DocumentPages
from mor.web.home_readings import HomeReadingPages
from mor.web.i18n import translations
from mor.web.identity_checks import IdentityCheckPages
from mor.web.monitoring import MonitoringPages
from mor.web.monitoring_control import ControlRatePages
from mor.web.my_record import MyRecordPages
from mor.web.patient_visits import PatientVisitPages
from mor.web.pharmacy import PharmacyPages
from mor.web.registering import Registering
from mor.web.sharing import SharingPages
from mor.web.signin import SignIn
from mor.web.video import VideoPages
from mor.web.visits import VisitPages

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

_FHIR_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    engine = create_engine(settings)
    store = Store(engine)
    export = BulkExport(store, settings.export_dir)
    importer = BulkImport(store, settings)
    fhir = FhirEndpoint(store, max_body_bytes=settings.max_body_bytes,
                        base_url=settings.base_url and settings.base_url + "/fhir",
                        authenticate=BearerAuthentication(engine, store), export=export,
                        break_glass=BreakGlass(engine), importer=importer)
    smart_server = SmartServer(engine)
    smart = SmartEndpoints(smart_server, settings.base_url)
    email, sms = senders(settings)
    registering = Registering(Registrations(store, Accounts(engine), email, sms))
    sign_in = SignIn(store, Accounts(engine), Sessions(engine),
                     TotpSecrets(engine, settings.secret_key_file), smart_server,
                     settings.base_url)
    sharing = SharingPages(store, sign_in)
    identity_checks = IdentityCheckPages(IdentityChecks(store, Accounts(engine)), sign_in)
    booking = BookingPages(store, sign_in, settings.zone)
    reminders = Reminders(store, email, sms, settings.zone,
                          lambda language, text: str(translations(language).gettext(text)),
                          lambda moment, language: long_day(moment.date(), language,
                                                            default_era(language)),
                          settings.base_url and settings.base_url + "/appointments",
                          settings.language)
    day_list = DayListPages(store, sign_in, settings.zone)
    centre_admin = CentreAdminPages(store, sign_in, settings.zone, settings.language,
                                    reminders)
    relay = relay_for(engine)
    visits = VisitPages(store, sign_in, settings.zone)
    patient_visits = PatientVisitPages(store, sign_in, settings.zone)
    pharmacy = PharmacyPages(store, sign_in, settings.zone)
    documents = DocumentPages(store, sign_in, settings.zone)
    my_record = MyRecordPages(store, sign_in, settings.zone)
    home_readings = HomeReadingPages(store, sign_in, settings.zone)

    async def remind_due(now: datetime) -> int:
        return await send_due_reminders(
            store, now, zone=settings.zone, email=email, sms=sms,
            translate=lambda language, text: str(translations(language).gettext(text)),
            link=settings.base_url and settings.base_url + "/my/readings",
            default_language=settings.language)

    control_rates = ControlRatePages(store, sign_in, settings.zone, settings.language)
    monitoring = MonitoringPages(store, sign_in, settings.zone)
    video = VideoPages(store, sign_in, relay, settings.ice, settings.zone, visits)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        heap.settle()
        # The city formulary's Medications, which prescriptions refer to (idempotent).
        await seed_formulary(store)
        await relay.start()
        workers = [asyncio.create_task(export.run_forever(), name="bulk-export"),
                   asyncio.create_task(importer.run_forever(), name="bulk-import"),
                   asyncio.create_task(purge_forever(engine), name="purge-expired"),
                   asyncio.create_task(reminders.run_forever(), name="reminders"),
                   asyncio.create_task(keep_ahead_forever(store, settings.zone),
                                       name="slots-ahead"),
                   asyncio.create_task(close_left_over_forever(store, settings.zone),
                                       name="consults-left-over"),
                   asyncio.create_task(watch_forever(store, settings.zone, remind_due),
                                       name="home-readings")]
        try:
            yield
        finally:
            for worker in workers:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await relay.stop()
            await engine.dispose()

    async def about(request: Request) -> Response:
        return JSONResponse({
            "name": "mor",
            "version": mor.__version__,
            "fhir": str(request.base_url).rstrip("/") + "/fhir",
            "fhirVersion": "4.0.1",
        })

    app = Starlette(
        routes=[
            Route("/", booking.home, methods=["GET"]),
            Route("/about.json", about, methods=["GET"]),
            Route("/book", booking.centres, methods=["GET"]),
            Route("/book/{centre}", booking.services, methods=["GET"]),
            Route("/book/{centre}/{service}", booking.times, methods=["GET"]),
            Route("/book/{centre}/{service}", booking.book, methods=["POST"]),
            Route("/appointments", booking.appointments, methods=["GET"]),
            Route("/appointments/{appointment}/reschedule", booking.reschedule_page,
                  methods=["GET"]),
            Route("/appointments/{appointment}/reschedule", booking.reschedule,
                  methods=["POST"]),
            Route("/appointments/{appointment}/cancel", booking.cancel, methods=["POST"]),
            Route("/fhir/.well-known/smart-configuration", smart.configuration,
                  methods=["GET"]),
            Route("/.well-known/smart-configuration", smart.configuration, methods=["GET"]),
            Route("/register", registering.page, methods=["GET"]),
            Route("/register", registering.submit, methods=["POST"]),
            Route("/register/confirm", registering.confirm, methods=["POST"]),
            Route("/account/sharing", sharing.page, methods=["GET"]),
            Route("/account/sharing", sharing.change, methods=["POST"]),
            Route("/staff/identity-checks", identity_checks.page, methods=["GET"]),
            Route("/staff/today", day_list.page, methods=["GET"]),
            Route("/admin/centres", centre_admin.list_page, methods=["GET"]),
            Route("/admin/centres/new", centre_admin.new_page, methods=["GET"]),
            Route("/admin/centres/new", centre_admin.create, methods=["POST"]),
            Route("/admin/centres/{centre}", centre_admin.centre_page, methods=["GET"]),
            Route("/admin/centres/{centre}", centre_admin.change, methods=["POST"]),
            Route("/staff/today/changes", day_list.changes, methods=["GET"]),
            Route("/staff/today/{appointment}", day_list.mark, methods=["POST"]),
            Route("/staff/today/{appointment}/visit", day_list.open_visit, methods=["POST"]),
            Route("/staff/identity-checks", identity_checks.verify, methods=["POST"]),
            Route("/appointments/{appointment}/video", video.patient_page, methods=["GET"]),
            Route("/staff/video", video.waiting_list, methods=["GET"]),
            Route("/staff/video/changes", video.waiting_changes, methods=["GET"]),
            Route("/video/walk-in", video.walk_in, methods=["POST"]),
            Route("/video/{encounter}", video.call_page, methods=["GET"]),
            Route("/video/{encounter}/admit", video.admit, methods=["POST"]),
            Route("/video/{encounter}/hand-over", video.hand_over, methods=["POST"]),
            Route("/video/{encounter}/end", video.end, methods=["POST"]),
            Route("/video/{encounter}/state", video.state, methods=["GET"]),
            Route("/video/{encounter}/ice", video.ice_servers, methods=["GET"]),
            Route("/video/{encounter}/speed", video.speed, methods=["GET"]),
            Route("/video/{encounter}/messages", video.messages, methods=["GET"]),
            Route("/video/{encounter}/messages", video.post_message, methods=["POST"]),
            Route("/video/{encounter}/photos/{binary}", video.photo, methods=["GET"]),
            WebSocketRoute("/video/{encounter}/signal", video.signal),
            Route("/visits/diagnoses", visits.diagnoses, methods=["GET"]),
            Route("/visits/{encounter}", visits.page, methods=["GET"]),
            Route("/visits/{encounter}/draft", visits.save_draft, methods=["POST"]),
            Route("/visits/{encounter}/sign", visits.sign, methods=["POST"]),
            Route("/visits/{encounter}/answer", visits.answer, methods=["POST"]),
            Route("/my/visits", patient_visits.visits, methods=["GET"]),
            Route("/my/record", my_record.record, methods=["GET"]),
            Route("/my/record/access", my_record.access, methods=["GET"]),
            Route("/pharmacy", pharmacy.queue, methods=["GET"]),
            Route("/pharmacy/labels/{request}", documents.label, methods=["GET"]),
            Route("/documents/{document}", documents.document, methods=["GET"]),
            Route("/pharmacy/prescriptions/{task}/accept", pharmacy.accept, methods=["POST"]),
            Route("/pharmacy/prescriptions/{task}/query", pharmacy.query_back,
                  methods=["POST"]),
            Route("/pharmacy/prescriptions/{task}/dispense", pharmacy.dispense,
                  methods=["POST"]),
            Route("/pharmacy/deliveries/{task}/advance", pharmacy.advance, methods=["POST"]),
            Route("/my/visits/{encounter}", patient_visits.visit, methods=["GET"]),
            Route("/my/visits/{encounter}/changes", patient_visits.changes, methods=["GET"]),
            Route("/auth/login", sign_in.login_page, methods=["GET"]),
            Route("/auth/login", sign_in.login, methods=["POST"]),
            Route("/auth/totp", sign_in.totp_page, methods=["GET"]),
            Route("/auth/totp", sign_in.totp, methods=["POST"]),
            Route("/auth/signed-in", sign_in.signed_in_page, methods=["GET"]),
            Route("/auth/logout", sign_in.logout, methods=["POST"]),
            Route("/auth/authorize", sign_in.authorize_page, methods=["GET"]),
            Route("/auth/authorize", sign_in.authorize, methods=["POST"]),
            Route("/auth/token", smart.token, methods=["POST"]),
            Route("/auth/revoke", smart.revoke, methods=["POST"]),
            Route("/auth/introspect", smart.introspect, methods=["POST"]),
            # Before /staff/monitoring/{patient}, which would take "control" for a patient.
            Route("/staff/monitoring/control", control_rates.page, methods=["GET"]),
            Route("/staff/monitoring/control.csv", control_rates.csv, methods=["GET"]),
            Route("/staff/monitoring", monitoring.worklist_page, methods=["GET"]),
            Route("/staff/monitoring/{patient}", monitoring.patient_page, methods=["GET"]),
            Route("/staff/monitoring/{patient}/acknowledge", monitoring.acknowledge,
                  methods=["POST"]),
            Route("/staff/monitoring/{patient}/escalate", monitoring.escalate,
                  methods=["POST"]),
            Route("/staff/monitoring/{patient}/message", monitoring.message,
                  methods=["POST"]),
            Route("/staff/monitoring/{patient}/book", monitoring.book_video,
                  methods=["POST"]),
            Route("/staff/monitoring/{patient}/enrol", monitoring.enrol_patient,
                  methods=["POST"]),
            Route("/staff/monitoring/{patient}/thresholds", monitoring.thresholds,
                  methods=["POST"]),
            Route("/my/readings", home_readings.page, methods=["GET"]),
            Route("/my/readings", home_readings.save, methods=["POST"]),
            Route("/my/readings/enrol", home_readings.enrol, methods=["POST"]),
            Route("/my/readings/upload", home_readings.upload, methods=["POST"]),
            Route("/fhir", fhir.handle, methods=_FHIR_METHODS),
            Route("/fhir/{path:path}", fhir.handle, methods=_FHIR_METHODS),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(SecurityHeaders,
                       https=(settings.base_url or "").startswith("https://")),
            Middleware(RateLimits, per_minute=settings.rate_limit_per_minute),
        ],
    )
    app.state.store = store
    app.state.settings = settings
    return app
