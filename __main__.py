"""Pulumi entry point (`pulumi up -s dev|staging|prod`): everything is composed in components.stack."""

from components.stack import build_stack

build_stack()
