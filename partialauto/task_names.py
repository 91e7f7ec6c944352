"""django-q2 task names that one app enqueues for another (by name: the layers never import upward).

One constant per task, so a task that moves to another module is renamed here and nowhere else.
"""

from __future__ import annotations

# The poll loop (markets.polling.run_poll_loop): the schedule starts it every minute, it hands itself on.
POLL_LOOP_TASK = "markets.tasks.poll_loop_task"
# Decide the NEW inquiries a poll just stored (the agent and the policy).
DECIDE_TASK = "inquiries.tasks.process_inquiries_task"
