"""critique"""
