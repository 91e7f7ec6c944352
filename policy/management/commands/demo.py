"""The whole rollout story on the embedded default; `--serve` keeps the admin, workers and sandbox up."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from partialauto.demo import Demo
from partialauto.demo_setup import ADMIN_USER, AGENT_USER, MANAGER_USER, DemoError


class Command(BaseCommand):
    help = "Run the rollout story (shadow → test → live → failure → rollback) against a local sandbox marketplace."

    def add_arguments(self, parser):
        parser.add_argument(
            "--serve", action="store_true", help="afterwards keep the admin, workers and sandbox running"
        )
        parser.add_argument("--port", type=int, default=8000, help="admin port for --serve")
        parser.add_argument("--sandbox-port", type=int, default=0, help="sandbox port (default: a free one)")

    def handle(self, *args, serve, port, sandbox_port, **options):
        echo = lambda line: (self.stdout.write(line), self.stdout.flush())  # noqa: E731 — progress as it happens
        demo = Demo(echo, port=sandbox_port)
        try:
            result = demo.run()
        except DemoError as exc:
            demo.stop()
            raise CommandError(str(exc)) from exc
        except Exception:
            demo.stop()
            raise
        w = self.stdout.write
        w(self.style.SUCCESS("\n✔ 데모 완료"))
        w(f"  샌드박스가 받은 답변 {result.answers_at_sandbox}건, 롤백 사고 #{result.incident_id}")
        w(
            "  "
            + _("불만 재문의로 의도 자동화 중단 사고 #%(id)s (롤아웃 관리자가 사유를 남기고 복구)")
            % {"id": result.intent_incident_id}
        )
        w(f"  데이터베이스: {settings.DATABASES['default']['NAME']}")
        w("  관리자 화면: python manage.py demo --serve  (또는 make serve) 후 http://127.0.0.1:%d/admin/" % port)
        w(f"    {ADMIN_USER} / {result.admin_password}   (전체 관리자)")
        w(f"    {MANAGER_USER} / {result.manager_password}   (롤아웃 관리자: 해금·잠금·긴급 정지)")
        w(f"    {AGENT_USER} / {result.agent_password}   (CS 상담원: 검토 대기열에서 수정·승인)")
        w("  비밀번호는 데모를 다시 실행할 때마다 새로 만들어집니다.")
        if not serve:
            demo.stop()
            return
        self._serve(demo, port)

    def _serve(self, demo: Demo, port: int) -> None:
        """The web process and the workers as in production (deploy/Procfile), until SIGTERM or Ctrl+C;
        then both are stopped, and the sandbox with them."""
        from partialauto.schedules import setup_schedules
        from partialauto.serve import Supervisor, web_command, worker_command

        setup_schedules()
        # the admin's CSS and JS, by the hashed names the web process serves them under
        call_command("collectstatic", interactive=False, verbosity=0)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "partialauto.settings"}
        supervisor = Supervisor()
        supervisor.install_signal_handlers()
        try:
            web = supervisor.start("web", web_command(f"127.0.0.1:{port}"), env=env)
            workers = supervisor.start("workers", worker_command(), env=env)
            self.stdout.write(
                _("\n웹(gunicorn) pid %(web)d, 작업자(qcluster) pid %(workers)d, 샌드박스 %(sandbox)s")
                % {"web": web.pid, "workers": workers.pid, "sandbox": demo.running_sandbox.url}
            )
            self.stdout.write(_("관리자: http://127.0.0.1:%(port)d/admin/  — 끝내려면 Ctrl+C") % {"port": port})
            self.stdout.flush()
            exited = supervisor.wait()
            self.stdout.write(_("정지하는 중: 웹, 작업자, 샌드박스…"))
        finally:
            supervisor.stop()
            supervisor.restore_signal_handlers()
            demo.stop()
        if exited is not None:
            raise CommandError(
                _("%(name)s 프로세스가 스스로 끝났습니다 (종료 코드 %(code)s): 모두 정지했습니다.")
                % {"name": exited.name, "code": exited.process.returncode}
            )
        self.stdout.write(self.style.SUCCESS(_("모두 정지했습니다.")))
