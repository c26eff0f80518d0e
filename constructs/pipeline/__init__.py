"""The release pipeline in the home region: source, image build, deploy actions per region (their roles and
targets), the wait after each wave of the ECS engine, and the cross-region dashboard.
"""
