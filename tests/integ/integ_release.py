"""Check 2, a release end to end: the sample's source uploaded, the pipeline succeeds in every region, and each
region answers 200 from a task of the released image, from its own repository by digest.

The post-deploy hook is ``make release`` on this app (tools/operate/release.py): it uploads sample/ and
follows the execution, exiting non-zero unless every region's deployment succeeded. The assertions then read,
in each region, the image ECS runs (ListTasks, DescribeTasks: ``tasks[].containers[].image``) and the image
the answering task names (the sample reports ECS's task metadata ``Image``), and require them to be the same
image of the region's repository by digest.
"""

from __future__ import annotations

from support import (
    RELEASE,
    assertion_stacks,
    new_app,
    release,
    serves_a_released_image,
    synthesize,
)

app = new_app()
built = release(app, "release")
asserts = assertion_stacks(app, built)
for region, regional in built.regional_stacks.items():
    serves_a_released_image(asserts[region], regional)

synthesize(app, "Release", built, asserts, post_deploy=(RELEASE,))
